// In-process activate() (issue 4), figures in one run:
//   1. an http.get loop without keep-alive to a loopback server, and a fetch loop: baseline (no tethered),
//      activate(), and preload (LD_PRELOAD, no activate) — interleaved, medians; target <= 3% overhead;
//      plus each request of the activate() loop inside scope();
//   1b. in one process, alternating batches: policy in force, lifted, and inside scope();
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

// 1b. The same loops in ONE process: first batches with the policy in force before any scope was made (what
// a scope made later costs every request of the process shows only against these), then rounds of three
// batches back to back: the policy in force (activate()), lifted (deactivate(): the hooks stay patched in
// and pass through, the wrappers have nothing to check), and each request inside scope(). Wall time: the
// median of per-round ratios, each round seeing one moment of the machine, far steadier than the figures
// across processes above. CPU time: the JavaScript thread's own (/proc/thread-self/schedstat; every request
// of these loops runs on it), summed over all batches of a mode (the kernel may account it in ticks).
const abScript = (kind) => `
const http = require('node:http');
const { readFileSync } = require('node:fs');
const t = require(${JSON.stringify(root)});
const cpuNs = () => Number(readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.2', async () => {
    const url = 'http://127.0.0.2:' + server.address().port + '/';
    const agent = new http.Agent({ keepAlive: false });
    const one = ${kind === 'fetch' ? "() => fetch(url, { headers: { connection: 'close' } }).then((r) => r.text())" : '() => new Promise((resolve, reject) => http.get(url, { agent }, (res) => { res.resume(); res.on(\'end\', resolve); }).on(\'error\', reject))'};
    const inScope = () => t.scope({ allow: ['127.0.0.2'], allowLocalhost: false, label: 'bench' }, one);
    const on = () => t.activate({ allow: ['127.0.0.2', 'api.example.test:443'], allowLocalhost: false });
    on();
    const n = ${Math.max(20, Math.round(requests / 20))};
    const batch = async (request) => {
        const cpu = cpuNs();
        const start = process.hrtime.bigint();
        for (let i = 0; i < n; i++) await request();
        return { wall: Number(process.hrtime.bigint() - start) / n / 1000, cpu: (cpuNs() - cpu) / n / 1000 };
    };
    // First the policy in force before any scope was made: what a scope made later costs every request of
    // the process (an async hook, AsyncLocalStorage's propagation) shows only against this.
    for (let i = 0; i < 2000; i++) await one(); // long enough for the JIT to settle
    const first = [];
    for (let round = 0; round < 20; round++) first.push(await batch(one));
    for (let i = 0; i < 300; i++) await inScope();
    const modes = ['on', 'off', 'scope'];
    const rounds = [];
    for (let round = 0; round < 40; round++) {
        const r = {};
        for (let k = 0; k < modes.length; k++) {
            const mode = modes[(round + k) % modes.length];
            if (mode === 'off') t.deactivate(); else on();
            r[mode] = await batch(mode === 'scope' ? inScope : one);
        }
        rounds.push(r);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    const out = {};
    // CPU time is read as the kernel accounts it, in ticks on some machines: per batch it is coarse, summed
    // over all the batches of a mode it is not (the tick's phase is random).
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const m of modes) out[m] = { wall: median(rounds.map((r) => r[m].wall)), cpu: mean(rounds.map((r) => r[m].cpu)) };
    out.first = { wall: median(first.map((b) => b.wall)), cpu: mean(first.map((b) => b.cpu)) };
    out.scopeVsFirst = { wall: out.scope.wall / out.first.wall - 1, cpu: out.scope.cpu / out.first.cpu - 1 };
    out.onVsFirst = { wall: out.on.wall / out.first.wall - 1, cpu: out.on.cpu / out.first.cpu - 1 };
    out.activate = { wall: median(rounds.map((r) => r.on.wall / r.off.wall - 1)), cpu: out.on.cpu / out.off.cpu - 1 };
    out.scopeVsActivate = { wall: median(rounds.map((r) => r.scope.wall / r.on.wall - 1)), cpu: out.scope.cpu / out.on.cpu - 1 };
    console.log(JSON.stringify(out));
    server.close();
});`;
for (const kind of ['http.get', 'fetch']) {
    const runs = Array.from({ length: Math.max(1, Math.round(rounds / 2)) }, () => JSON.parse(execFileSync(process.execPath, ['-e', abScript(kind)], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } })));
    const pick = (mode, field) => median(runs.map((r) => r[mode][field]));
    results[kind].inProcess = Object.fromEntries(['on', 'off', 'scope', 'activate', 'scopeVsActivate', 'first', 'scopeVsFirst', 'onVsFirst'].map((m) => [m, { wall: pick(m, 'wall'), cpu: pick(m, 'cpu') }]));
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

console.log(`in-process overhead, median of ${rounds} interleaved rounds, ${requests} requests each (new connection per request)`);
for (const kind of ['http.get', 'fetch']) {
    const r = results[kind];
    const u = r.usPerRequest;
    const pc = (x) => `${(x * 100).toFixed(1)}%`;
    if (full) console.log(`${kind.padEnd(9)} wall: baseline ${u.baseline.toFixed(1)} us, activate() ${u.activate.toFixed(1)} us (${pc(r.activateOverhead)}), preload ${u.preload.toFixed(1)} us (${pc(r.preloadOverhead)})  (target <= 3%); activate() + scope() per request ${u.scope.toFixed(1)} us (${pc(r.scopeOverhead)})`);
    const p = r.inProcess;
    console.log(`${kind.padEnd(9)} one process, alternating batches: lifted ${p.off.wall.toFixed(1)} us (cpu ${p.off.cpu.toFixed(1)}), in force ${p.on.wall.toFixed(1)} us (cpu ${p.on.cpu.toFixed(1)}), in scope ${p.scope.wall.toFixed(1)} us (cpu ${p.scope.cpu.toFixed(1)})`);
    console.log(`${''.padEnd(9)}   before any scope was made, in force: ${p.first.wall.toFixed(1)} us (cpu ${p.first.cpu.toFixed(1)}); against it, in scope: wall ${pc(p.scopeVsFirst.wall)}, cpu ${pc(p.scopeVsFirst.cpu)}; in force but outside any scope once scopes were used: wall ${pc(p.onVsFirst.wall)}, cpu ${pc(p.onVsFirst.cpu)}`);
    console.log(`${''.padEnd(9)}   per round, median: activate() vs lifted: wall ${pc(p.activate.wall)}, cpu ${pc(p.activate.cpu)}; scope() vs activate() alone: wall ${pc(p.scopeVsActivate.wall)}, cpu ${pc(p.scopeVsActivate.cpu)}  (targets <= 3%)`);
    if (full) console.log(`${''.padEnd(9)} cpu:  baseline ${r.cpuUsPerRequest.baseline.toFixed(1)} us, activate() ${pc(r.cpu.activate)}, preload ${pc(r.cpu.preload)}, activate() + scope() ${pc(r.cpu.scope)}`);
}
if (full) console.log(`activate() with ${results.activate.objects} shared objects loaded: ${results.activate.ms.toFixed(2)} ms (first activate, including loading the shim), ${results.activate.patchedSlots} GOT slots patched`);
