// In-process activate() (issue 4), figures in one run:
//   1. an http.get loop without keep-alive to a loopback server, and a fetch loop: baseline (no tethered),
//      activate(), and preload (LD_PRELOAD, no activate) — interleaved, medians; target <= 3% overhead;
//      plus each request of the activate() loop inside scope() (the async hook scopes turn on);
//   2. the time activate() takes to patch a process with 50 more shared objects loaded.
//
//   node bench/activate.bench.mjs [--rounds N] [--requests N]      (run it inside `npm run netns`)
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { root } from '../test/helpers/cbuild.mjs';
import { probeLibrary, testAddon } from '../test/helpers/inprocess.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, requests: { type: 'string', default: '2000' } } });
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

const results = {};
for (const kind of ['http.get', 'fetch']) {
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

// 1b. The same loops in ONE process, alternating batches with the policy in force (activate()) and lifted
// (deactivate(): the hooks stay patched in and pass through, the wrappers have nothing to check). Both
// halves see the same machine moment by moment, so this ratio is far steadier than the one across
// processes above: it is what judging costs, the one-time patching aside.
const abScript = (kind) => `
const http = require('node:http');
const t = require(${JSON.stringify(root)});
const server = http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.2', async () => {
    const url = 'http://127.0.0.2:' + server.address().port + '/';
    const agent = new http.Agent({ keepAlive: false });
    const one = ${kind === 'fetch' ? "() => fetch(url, { headers: { connection: 'close' } }).then((r) => r.text())" : '() => new Promise((resolve, reject) => http.get(url, { agent }, (res) => { res.resume(); res.on(\'end\', resolve); }).on(\'error\', reject))'};
    const on = () => t.activate({ allow: ['127.0.0.2', 'api.example.test:443'], allowLocalhost: false });
    on();
    for (let i = 0; i < 300; i++) await one();
    const total = { on: 0, off: 0 };
    for (let round = 0; round < 30; round++) {
        for (const mode of round % 2 ? ['off', 'on'] : ['on', 'off']) {
            if (mode === 'on') on(); else t.deactivate();
            const start = process.hrtime.bigint();
            for (let i = 0; i < ${Math.max(20, Math.round(requests / 30))}; i++) await one();
            total[mode] += Number(process.hrtime.bigint() - start);
        }
    }
    console.log(total.on / total.off - 1);
    server.close();
});`;
for (const kind of ['http.get', 'fetch']) {
    const runs = Array.from({ length: rounds }, () => Number(execFileSync(process.execPath, ['-e', abScript(kind)], { encoding: 'utf8', env: { ...process.env, LD_PRELOAD: '' } }).trim()));
    results[kind].inProcessAB = median(runs);
}

// activate() with 50 more shared objects loaded (copies of a small library, each its own object).
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

console.log(`in-process overhead, median of ${rounds} interleaved rounds, ${requests} requests each (new connection per request)`);
for (const kind of ['http.get', 'fetch']) {
    const r = results[kind];
    const u = r.usPerRequest;
    const pc = (x) => `${(x * 100).toFixed(1)}%`;
    console.log(`${kind.padEnd(9)} wall: baseline ${u.baseline.toFixed(1)} us, activate() ${u.activate.toFixed(1)} us (${pc(r.activateOverhead)}), preload ${u.preload.toFixed(1)} us (${pc(r.preloadOverhead)})  (target <= 3%); activate() + scope() per request ${u.scope.toFixed(1)} us (${pc(r.scopeOverhead)})`);
    console.log(`${''.padEnd(9)} one process, policy in force vs lifted, alternating batches: ${pc(r.inProcessAB)}`);
    console.log(`${''.padEnd(9)} cpu:  baseline ${r.cpuUsPerRequest.baseline.toFixed(1)} us, activate() ${pc(r.cpu.activate)}, preload ${pc(r.cpu.preload)}, activate() + scope() ${pc(r.cpu.scope)}`);
}
console.log(`activate() with ${results.activate.objects} shared objects loaded: ${results.activate.ms.toFixed(2)} ms (first activate, including loading the shim), ${results.activate.patchedSlots} GOT slots patched`);
