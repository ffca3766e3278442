// What strict mode costs, each figure measured in one run (issue 10):
//   1. a judged connect: the C loop of connect+close to a loopback server (bench/c/connect_loop.c, its raw
//      system-call column), as a plain process and under tethered-strict (goal: <= 20 us extra per call);
//   2. a read/write loop (bench/c/io_loop.c), which the filter lets through in the kernel (goal: no
//      measurable change);
//   3. start-up: `tethered-strict -- true` against `true`, and `tethered run --strict -- true` against
//      `tethered run -- true`.
// Runs alternate (without, with, without, …) and medians are taken, so drift hits both sides.
//
//   node scripts/test.mjs --shell node bench/strict.bench.mjs [--rounds N] [--json]
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildC, root } from '../test/helpers/cbuild.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, json: { type: 'boolean' } } });
const rounds = Number(values.rounds);
const strict = join(root, 'build', 'Release', 'tethered-strict');
const cli = join(root, 'dist', 'cli', 'main.js');
const POLICY = { TETHERED_ALLOW: '127.0.0.2,db.example.test:5432,*.stripe.com:443', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: 'off' };

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function run(cmd, args, env = {}) {
    return execFileSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] }).trim();
}

/** Interleaved medians of the first number `cmd args` prints, without and with tethered-strict. */
function paired(cmd, args) {
    const without = [];
    const withStrict = [];
    for (let i = 0; i < rounds; i++) {
        without.push(Number(run(cmd, args).split(' ')[0]));
        withStrict.push(Number(run(strict, ['--', cmd, ...args], POLICY).split(' ')[0]));
    }
    const a = median(without);
    const b = median(withStrict);
    return { without: a, with: b, extra: b - a, ratio: b / a };
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

const results = {};
const loop = buildC('connect-loop', [join(root, 'bench/c/connect_loop.c')], { optimize: '-O2' });
results.connect = paired(loop, ['20000', '127.0.0.2']);
// (-include: bench/c/raw.h uses struct sockaddr without including its header, which io_loop.c does not either)
const io = buildC('io-loop', [join(root, 'bench/c/io_loop.c')], { optimize: '-O2', libs: ['-include', 'sys/socket.h'] });
results.readWrite = paired(io, ['400000']);
{
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
    console.log(`judged connect+close (loopback):  ${us(results.connect.without)} → ${us(results.connect.with)}  (+${us(results.connect.extra)} per call)`);
    console.log(`write+read loop (not judged):     ${results.readWrite.without.toFixed(0)} ns → ${results.readWrite.with.toFixed(0)} ns  (x${results.readWrite.ratio.toFixed(3)})`);
    console.log(`start-up, tethered-strict -- true: ${results.startupSupervisor.without.toFixed(2)} ms → ${results.startupSupervisor.with.toFixed(2)} ms  (+${results.startupSupervisor.extra.toFixed(2)} ms)`);
    console.log(`start-up, tethered run [--strict] -- true: ${results.startupCli.without.toFixed(1)} ms → ${results.startupCli.with.toFixed(1)} ms  (+${results.startupCli.extra.toFixed(1)} ms)`);
}
