// In-process activate() (issue 4), figures in one run:
//   1. an http.get loop without keep-alive to a loopback server, and a fetch loop: baseline (no tethered),
//      activate(), and preload (LD_PRELOAD, no activate) — interleaved, medians; target <= 3% overhead;
//      plus each request of the activate() loop inside scope();
//   1b. in one process, alternating batches: policy lifted, activate() alone, outside a scope once one was
//       made, inside scope() (trimmed means with 95% bootstrap intervals, wall and CPU);
//   2. the time activate() takes to patch a process with 50 more shared objects loaded.
//
//   node bench/activate.bench.mjs [--rounds N] [--requests N] [--one-process]      (run it inside `npm run netns`)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { root } from '../test/helpers/cbuild.mjs';
import { probeLibrary, testAddon } from '../test/helpers/inprocess.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, requests: { type: 'string', default: '2000' }, 'one-process': { type: 'boolean', default: false } } });
// --one-process: only part 1b (the quickest, steadiest figures)
const full = !values['one-process'];
const rounds = Number(values.rounds);
const requests = Number(values.requests);
const shim = join(root, 'build', 'Release', 'libtethered.so');

function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    return s[s.length >> 1];
}

// One child per measurement: a server on 127.0.0.2 and N requests to it, each on a new connection.
const loopScript = (kind, mode) => `
const http = require('node:http');
const t = require(${JSON.stringify(root)});
${mode === 'activate' || mode === 'scope' ? "t.activate({ allow: ['127.0.0.2', 'api.example.test:443'], allowLocalhost: false });" : ''}
const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.2', async () => {
    const url = 'http://127.0.0.2:' + server.address().port + '/';
    const agent = new http.Agent({ keepAlive: false });
    const one = ${kind === 'fetch' ? "() => fetch(url, { headers: { connection: 'close' } }).then((r) => r.text())" : '() => new Promise((resolve, reject) => http.get(url, { agent }, (res) => { res.resume(); res.on(\'end\', resolve); }).on(\'error\', reject))'};
    const request = ${mode === 'scope' ? "() => t.scope({ allow: ['127.0.0.2'], allowLocalhost: false, label: 'bench' }, one)" : 'one'};
    for (let i = 0; i < 200; i++) await request();
    const start = process.hrtime.bigint();
    const cpu = process.cpuUsage();
    for (let i = 0; i < ${requests}; i++) await request();
    const used = process.cpuUsage(cpu);
    console.log(Number(process.hrtime.bigint() - start) / ${requests} / 1000, (used.user + used.system) / ${requests});
    server.close();
});`;

function measure(kind, mode) {
    const env = { ...process.env, LD_PRELOAD: '' };
    if (mode === 'preload') Object.assign(env, { LD_PRELOAD: shim, TETHERED_ALLOW: '127.0.0.2,api.example.test:443', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: 'off' });
    return execFileSync(process.execPath, ['-e', loopScript(kind, mode)], { env, encoding: 'utf8' }).trim().split(' ').map(Number);
}

const results = { 'http.get': {}, fetch: {} };
for (const kind of full ? ['http.get', 'fetch'] : []) {
    const samples = { baseline: [], activate: [], preload: [], scope: [] };
    const modes = Object.keys(samples);
    // the order rotates every round, so that no mode always runs first (cold) or last
    for (let r = 0; r < rounds; r++) for (let i = 0; i < modes.length; i++) samples[modes[(r + i) % modes.length]].push(measure(kind, modes[(r + i) % modes.length]));
    const m = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v.map((x) => x[0]))]));
    // CPU time per request (this process's server and client together): less at the mercy of the scheduler
    const c = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v.map((x) => x[1]))]));
    results[kind] = {
        usPerRequest: m,
        cpuUsPerRequest: c,
        activateOverhead: m.activate / m.baseline - 1,
        preloadOverhead: m.preload / m.baseline - 1,
        scopeOverhead: m.scope / m.baseline - 1,
        cpu: { activate: c.activate / c.baseline - 1, preload: c.preload / c.baseline - 1, scope: c.scope / c.baseline - 1 },
    };
}

// 1b. The same loops in ONE process, in rounds of batches back to back (the order rotates each round):
//   off      the policy lifted (deactivate(): the hooks stay patched in and pass through);
//   on       activate() alone, as in a process that never made a scope: AsyncLocalStorage switched off
//            (scopes.disable(), and the program's own below is off outside its batch), so no
//            async hook runs;
//   outside  activate(), a scope was made in the process, this request is outside every scope;
//   als      activate(), and each request inside a plain AsyncLocalStorage#run() of the program's own: what
//            entering any async context costs in this Node (its share of what scope() costs);
//   scope    activate(), and each request inside scope().
// Wall time: per round, the ratio of the two modes' batches (each round sees one moment of the machine);
// over all rounds of all runs, the 20%-trimmed mean of their logarithms, with a 95% bootstrap interval that
// resamples whole rounds. Not their median, as before: a batch of fetch() requests on Node 20 is either
// fast or about 15% slower (a garbage collection lands in it or not), so the ratios fall in two modes and
// their median jumped between runs from +1% to +9% for the same code; nor the ratio of totals, which one
// round the machine stalled in moves by points. CPU time: the JavaScript thread's own
// (/proc/thread-self/schedstat; every request of these loops runs on it), summed per mode, with the same
// kind of interval. Before the rounds, batches with the policy in force and no scope ever made ("first"),
// the process exactly as a user who never calls scope() has it.
const abScript = (kind) => `
const http = require('node:http');
const { readFileSync } = require('node:fs');
const t = require(${JSON.stringify(root)});
const { scopes } = require(${JSON.stringify(join(root, 'dist', 'runtime.js'))});
const cpuNs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.2', async () => {
    const url = 'http://127.0.0.2:' + server.address().port + '/';
    const agent = new http.Agent({ keepAlive: false });
    const one = ${kind === 'fetch' ? "() => fetch(url, { headers: { connection: 'close' } }).then((r) => r.text())" : '() => new Promise((resolve, reject) => http.get(url, { agent }, (res) => { res.resume(); res.on(\'end\', resolve); }).on(\'error\', reject))'};
    const options = { allow: ['127.0.0.2'], allowLocalhost: false, label: 'bench' };
    const inScope = () => t.scope(options, one);
    const own = new (require('node:async_hooks').AsyncLocalStorage)();
    const context = { request: true };
    const inOwnContext = () => own.run(context, one);
    const on = () => t.activate({ allow: ['127.0.0.2', 'api.example.test:443'], allowLocalhost: false });
    on();
    const n = ${Math.max(20, Math.round(requests / 20))};
    const batch = async (request) => {
        const cpu = cpuNs();
        const start = process.hrtime.bigint();
        for (let i = 0; i < n; i++) await request();
        return { wall: Number(process.hrtime.bigint() - start) / n / 1000, cpu: (cpuNs() - cpu) / n / 1000 };
    };
    for (let i = 0; i < 2000; i++) await one(); // long enough for the JIT to settle
    const first = [];
    for (let round = 0; round < 10; round++) first.push(await batch(one));
    for (let i = 0; i < 300; i++) await inScope();
    const modes = ['off', 'on', 'outside', 'als', 'scope'];
    const rounds = [];
    for (let round = 0; round < 40; round++) {
        const r = {};
        for (let k = 0; k < modes.length; k++) {
            const mode = modes[(round + k) % modes.length];
            if (mode === 'off') t.deactivate(); else on();
            if (mode === 'off' || mode === 'on') scopes.disable(); else t.scope(options, () => {});
            if (mode !== 'als') own.disable(); // on only for its batch (run() switches it on)
            r[mode] = await batch(mode === 'scope' ? inScope : mode === 'als' ? inOwnContext : one);
        }
        rounds.push(r);
    }
    console.log(JSON.stringify({ first, rounds }));
    server.close();
});`;

function bootstrap(rounds, stat, draws = 2000) {
    // a fixed seed: the same rounds give the same interval
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const values = [];
    for (let d = 0; d < draws; d++) values.push(stat(Array.from(rounds, () => rounds[Math.floor(random() * rounds.length)])));
    values.sort((a, b) => a - b);
    return [values[Math.floor(draws * 0.025)], values[Math.floor(draws * 0.975)]];
}
const sum = (xs) => xs.reduce((a, b) => a + b, 0);
// the 20%-trimmed mean of the per-round log ratios: robust to a round the machine stalled in, and centred
// where per-round ratios fall in two modes
const trimmedRatio = (ratios) => {
    const logs = ratios.map((x) => Math.log(x)).sort((x, y) => x - y);
    const cut = Math.floor(logs.length * 0.2);
    const kept = logs.slice(cut, logs.length - cut);
    return Math.exp(sum(kept) / kept.length) - 1;
};
const wallRatio = (a, b) => (rs) => trimmedRatio(rs.map((r) => r[a].wall / r[b].wall));
const cpuRatio = (a, b) => (rs) => sum(rs.map((r) => r[a].cpu)) / sum(rs.map((r) => r[b].cpu)) - 1;
const comparisons = { activate: ['on', 'off'], scopeVsActivate: ['scope', 'on'], scopeVsOutside: ['scope', 'outside'], outsideVsActivate: ['outside', 'on'], alsVsActivate: ['als', 'on'], scopeVsAls: ['scope', 'als'] };
for (const kind of ['http.get', 'fetch']) {
    const runs = Array.from({ length: Math.max(1, Math.round(rounds / 2)) }, () => JSON.parse(execFileSync(process.execPath, [...process.execArgv, '-e', abScript(kind)], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } })));
    const all = runs.flatMap((r) => r.rounds);
    const inProcess = { rounds: all.length };
    for (const m of ['off', 'on', 'outside', 'als', 'scope']) inProcess[m] = { wall: median(all.map((r) => r[m].wall)), cpu: sum(all.map((r) => r[m].cpu)) / all.length };
    const first = runs.flatMap((r) => r.first);
    inProcess.first = { wall: median(first.map((b) => b.wall)), cpu: sum(first.map((b) => b.cpu)) / first.length };
    for (const [name, [a, b]] of Object.entries(comparisons)) {
        inProcess[name] = { wall: wallRatio(a, b)(all), wallInterval: bootstrap(all, wallRatio(a, b)), cpu: cpuRatio(a, b)(all), cpuInterval: bootstrap(all, cpuRatio(a, b)) };
    }
    results[kind].inProcess = inProcess;
}

// activate() with 50 more shared objects loaded (copies of a small library, each its own object).
if (full) {
const dir = mkdtempSync(join(tmpdir(), 'tethered-50-'));
const libs = Array.from({ length: 50 }, (_, i) => {
    const path = join(dir, `libprobe${i}.so`);
    copyFileSync(probeLibrary(), path);
    return path;
});
const patchScript = `
const addon = require(${JSON.stringify(testAddon())});
for (const lib of ${JSON.stringify(libs)}) addon.dlopenOnly(lib);
const objects = new Set(require('node:fs').readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/)[5]).filter((p) => p && p.endsWith('.so') || (p && p.includes('.so.')))).size;
const t = require(${JSON.stringify(root)});
const start = process.hrtime.bigint();
t.activate({ allow: [] });
const ms = Number(process.hrtime.bigint() - start) / 1e6;
console.log(JSON.stringify({ ms, objects, patchedSlots: t.status().patchedSlots }));`;
const patchRuns = Array.from({ length: rounds }, () => JSON.parse(execFileSync(process.execPath, ['-e', patchScript], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } })));
results.activate = { ms: median(patchRuns.map((r) => r.ms)), objects: patchRuns[0].objects, patchedSlots: patchRuns[0].patchedSlots };
}

console.log(`in-process overhead, median of ${rounds} interleaved rounds, ${requests} requests each (new connection per request)${full ? '; the first line of each kind compares separate processes (each its own JIT and scheduling: swings of 10% are common here), the one-process lines below it are the measure of the targets' : ''}`);
for (const kind of ['http.get', 'fetch']) {
    const r = results[kind];
    const u = r.usPerRequest;
    const pc = (x) => `${(x * 100).toFixed(1)}%`;
    if (full) console.log(`${kind.padEnd(9)} wall: baseline ${u.baseline.toFixed(1)} us, activate() ${u.activate.toFixed(1)} us (${pc(r.activateOverhead)}), preload ${u.preload.toFixed(1)} us (${pc(r.preloadOverhead)})  (target <= 3%); activate() + scope() per request ${u.scope.toFixed(1)} us (${pc(r.scopeOverhead)})`);
    const p = r.inProcess;
    const ci = (x) => `${pc(x.wall)} [${pc(x.wallInterval[0])}, ${pc(x.wallInterval[1])}] wall, ${pc(x.cpu)} [${pc(x.cpuInterval[0])}, ${pc(x.cpuInterval[1])}] cpu`;
    console.log(`${kind.padEnd(9)} one process (Node.js ${process.version}), ${p.rounds} rounds of five alternating batches, us per request (cpu: the JavaScript thread's):`);
    console.log(`${''.padEnd(9)}   lifted ${p.off.wall.toFixed(1)} (cpu ${p.off.cpu.toFixed(1)}); activate() alone ${p.on.wall.toFixed(1)} (cpu ${p.on.cpu.toFixed(1)}); outside any scope once one was made ${p.outside.wall.toFixed(1)} (cpu ${p.outside.cpu.toFixed(1)}); inside scope() ${p.scope.wall.toFixed(1)} (cpu ${p.scope.cpu.toFixed(1)}); no scope ever made, before the rounds ${p.first.wall.toFixed(1)} (cpu ${p.first.cpu.toFixed(1)})`);
    console.log(`${''.padEnd(9)}   activate() vs lifted:               ${ci(p.activate)}  (target <= 3%)`);
    console.log(`${''.padEnd(9)}   scope() vs activate() alone:        ${ci(p.scopeVsActivate)}  (target <= 3%)`);
    console.log(`${''.padEnd(9)}     of which a scope made anywhere:   ${ci(p.outsideVsActivate)}  (AsyncLocalStorage switched on: every request of the process)`);
    console.log(`${''.padEnd(9)}     and the request's own scope():    ${ci(p.scopeVsOutside)}`);
    console.log(`${''.padEnd(9)}   a plain AsyncLocalStorage#run() of the program's own vs activate() alone: ${ci(p.alsVsActivate)}  (what any async context costs in this Node)`);
    console.log(`${''.padEnd(9)}   scope() vs that plain run():        ${ci(p.scopeVsAls)}  (tethered's own share)`);
    if (full) console.log(`${''.padEnd(9)} cpu:  baseline ${r.cpuUsPerRequest.baseline.toFixed(1)} us, activate() ${pc(r.cpu.activate)}, preload ${pc(r.cpu.preload)}, activate() + scope() ${pc(r.cpu.scope)}`);
}
if (full) console.log(`activate() with ${results.activate.objects} shared objects loaded: ${results.activate.ms.toFixed(2)} ms (first activate, including loading the shim), ${results.activate.patchedSlots} GOT slots patched`);
