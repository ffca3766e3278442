// What strict mode costs, each figure measured in one run (issue 10):
//   1. a judged connect: the C loop of connect+close to a loopback server (bench/c/connect_loop.c, its raw
//      system-call column), as a plain process and under tethered-strict (goal: <= 20 us extra per call);
//   2. a read/write loop (bench/c/io_loop.c), which the filter lets through in the kernel (goal: no
//      measurable change);
//   3. start-up: `tethered-strict -- true` against `true`, and `tethered run --strict -- true` against
//      `tethered run -- true`;
//   4. a Go HTTP client loop (bench/go/httploop.go, CGO_ENABLED=0: the kind of program only strict mode
//      sees) against a Go HTTP server outside strict mode: GETs over one kept-alive connection, and GETs
//      over a fresh connection each (every connect judged).
// Runs alternate (without, with, without, …) and medians are taken, so drift hits both sides. Beside wall
// time, CPU time: of the whole command tree (the supervisor's threads included, from the shell's `times`),
// and for the Go loop its own and the supervisor's, per call. On a shared machine wall time is noisy; the
// CPU time is the steadier figure of what strict mode adds.
//
//   node scripts/test.mjs --shell node bench/strict.bench.mjs [--rounds N] [--json]
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildC, root } from '../test/helpers/cbuild.mjs';

const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '7' }, json: { type: 'boolean' }, 'strict-binary': { type: 'string' }, only: { type: 'string' } },
});
const rounds = Number(values.rounds);
// --strict-binary: another build of the supervisor (a before/after comparison of its hot path)
const strict = values['strict-binary'] ?? join(root, 'build', 'Release', 'tethered-strict');
const only = values.only ? new Set(values.only.split(',')) : null;
const wanted = (name) => !only || only.has(name);
const cli = join(root, 'dist', 'cli', 'main.js');
const POLICY = { TETHERED_ALLOW: '127.0.0.2,db.example.test:5432,*.stripe.com:443', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: 'off' };

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function run(cmd, args, env = {}) {
    return execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Runs `cmd args` under bash: { out, cpuNs } with the CPU time (user + system) of the command and every
 * process it waited for (tethered-strict waits for the command: the whole tree), from bash's `times`. */
function runTimed(cmd, args, env = {}) {
    const text = run('bash', ['-c', 'out=$("$@") || exit; times; printf "%s\\n" "$out"', 'bash', cmd, ...args], env);
    const [, children, ...rest] = text.split('\n');
    const secs = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    return { out: rest.join('\n'), cpuNs: (secs[0] + secs[1]) * 1e9 };
}

/** Interleaved medians of the first number `cmd args` prints, without and with tethered-strict, and of the
 * tree's CPU time per call (`calls` per run). */
function paired(cmd, args, calls) {
    const without = { wall: [], cpu: [] };
    const withStrict = { wall: [], cpu: [] };
    for (let i = 0; i < rounds; i++) {
        for (const [into, c, a, env] of [
            [without, cmd, args, {}],
            [withStrict, strict, ['--', cmd, ...args], POLICY],
        ]) {
            const r = runTimed(c, a, env);
            into.wall.push(Number(r.out.split(' ')[0]));
            into.cpu.push(r.cpuNs / calls);
        }
    }
    const a = median(without.wall);
    const b = median(withStrict.wall);
    const ca = median(without.cpu);
    const cb = median(withStrict.cpu);
    return { without: a, with: b, extra: b - a, ratio: b / a, minWithout: Math.min(...without.wall), minWith: Math.min(...withStrict.wall), cpuWithout: ca, cpuWith: cb, cpuExtra: cb - ca };
}

/** Median wall time (ms) of spawning `cmd args`, interleaved with `other`. */
function startup(pairs) {
    const times = pairs.map(() => []);
    for (let i = 0; i < rounds; i++) {
        pairs.forEach(([cmd, args, env], k) => {
            const start = process.hrtime.bigint();
            const r = spawnSync(cmd, args, { env: { ...process.env, ...env }, stdio: 'ignore' });
            if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`);
            times[k].push(Number(process.hrtime.bigint() - start) / 1e6);
        });
    }
    return times.map(median);
}

/** bench/go/httploop.go, built as test/strict/programs.mjs builds the Go test program. */
function goHttpLoop() {
    const src = join(root, 'bench/go/httploop.go');
    const out = join(root, 'build/test/httploop');
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
    execFileSync('go', ['build', '-o', out, src], {
        cwd: join(root, 'bench/go'),
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, CGO_ENABLED: '0', GO111MODULE: 'off', GOCACHE: join(root, 'build/test/gocache'), GOPATH: join(root, 'build/test/gopath') },
    });
    return out;
}

/** The Go client loop without and with strict mode, alternating: medians of wall, client CPU and (with)
 * supervisor CPU per GET, in ns. */
async function goHttp() {
    const bin = goHttpLoop();
    const server = spawn(bin, ['serve', '127.0.0.2:0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = (await createInterface({ input: server.stdout })[Symbol.asyncIterator]().next()).value;
    const url = `http://127.0.0.2:${port}/`;
    const out = {};
    try {
        for (const [variant, n] of [
            ['keepalive', 4000],
            ['new', 1500],
        ]) {
            const rows = { without: [], with: [] };
            for (let i = 0; i < rounds; i++) {
                rows.without.push(run(bin, ['get', url, String(n), variant]).split(' ').map(Number));
                rows.with.push(run(strict, ['--', bin, 'get', url, String(n), variant], POLICY).split(' ').map(Number));
            }
            const col = (side, k) => median(rows[side].map((r) => r[k]));
            out[variant] = {
                without: col('without', 0),
                with: col('with', 0),
                extra: col('with', 0) - col('without', 0),
                cpuWithout: col('without', 1),
                cpuWith: col('with', 1),
                supervisorCpu: col('with', 2),
            };
        }
    } finally {
        server.kill();
    }
    return out;
}

const results = {};
if (wanted('connect')) {
    const loop = buildC('connect-loop', [join(root, 'bench/c/connect_loop.c')], { optimize: '-O2' });
    results.connect = paired(loop, ['20000', '127.0.0.2'], 21000); // 20,000 measured + 1,000 warm-up connects
}
if (wanted('io')) {
    // (-include: bench/c/raw.h uses struct sockaddr without including its header, which io_loop.c does not either)
    const io = buildC('io-loop', [join(root, 'bench/c/io_loop.c')], { optimize: '-O2', libs: ['-include', 'sys/socket.h'] });
    results.readWrite = paired(io, ['400000'], 400000);
}
if (wanted('go')) results.goHttp = await goHttp();
if (wanted('startup')) {
    const [plain, underStrict] = startup([
        ['true', []],
        [strict, ['--', 'true'], POLICY],
    ]);
    results.startupSupervisor = { without: plain, with: underStrict, extra: underStrict - plain };
    const [run0, run1] = startup([
        [process.execPath, [cli, 'run', '--', 'true']],
        [process.execPath, [cli, 'run', '--strict', '--', 'true']],
    ]);
    results.startupCli = { without: run0, with: run1, extra: run1 - run0 };
}

if (values.json) {
    console.log(JSON.stringify(results, null, 2));
} else {
    const us = (ns) => `${(ns / 1000).toFixed(1)} µs`;
    const c = results.connect;
    if (c) {
        console.log(`judged connect+close (loopback):  ${us(c.without)} → ${us(c.with)}  (+${us(c.extra)} per call; fastest runs ${us(c.minWithout)} → ${us(c.minWith)})`);
        console.log(`  CPU, whole tree, per call:      ${us(c.cpuWithout)} → ${us(c.cpuWith)}  (+${us(c.cpuExtra)})`);
    }
    const rw = results.readWrite;
    if (rw) console.log(`write+read loop (not judged):     ${rw.without.toFixed(0)} ns → ${rw.with.toFixed(0)} ns  (x${rw.ratio.toFixed(3)})`);
    for (const [variant, g] of Object.entries(results.goHttp ?? {})) {
        const what = variant === 'new' ? 'a new connection per GET' : 'one kept-alive connection';
        console.log(`Go HTTP GET loop, ${what}: ${us(g.without)} → ${us(g.with)} per GET (+${us(g.extra)}); client CPU ${us(g.cpuWithout)} → ${us(g.cpuWith)}, supervisor CPU ${us(g.supervisorCpu)}`);
    }
    const su = results.startupSupervisor;
    if (su) console.log(`start-up, tethered-strict -- true: ${su.without.toFixed(2)} ms → ${su.with.toFixed(2)} ms  (+${su.extra.toFixed(2)} ms)`);
    const sc = results.startupCli;
    if (sc) console.log(`start-up, tethered run [--strict] -- true: ${sc.without.toFixed(1)} ms → ${sc.with.toFixed(1)} ms  (+${sc.extra.toFixed(1)} ms)`);
}
