// What the size of a policy costs every process that inherits it (issue 9 item 5): a preloaded `true`,
// started with the environment `tethered run` gives it, for 0, 10,000 and 100,000 rules. Reports the
// medians of wall time, CPU time (user + system of the child) and peak RSS; the sizes alternate within
// each round so that drift hits all of them alike. Target: 100,000 rules at most 5 ms slower and at most
// 16 MB larger than no rules.
//
//   node scripts/test.mjs --shell node bench/policy-size.bench.mjs [--rounds N] [--json]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { childEnvironment } from '../dist/cli/launch.js';
import { AllowPolicy } from '../dist/index.js';
import { buildC, root } from '../test/helpers/cbuild.mjs';
import { rulesFor } from './policy-workload.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '11' }, json: { type: 'boolean' } } });
const rounds = Number(values.rounds);
const starter = buildC('startup', [join(root, 'bench/c/startup.c')], { optimize: '-O2' });
const sizes = [0, 10000, 100000];
// The last row: 100,000 rules when the sealed memfd did not reach the child (it reads and copies the file).
const FILE_ONLY = '100000 (file)';

function median(xs) {
    const s = [...xs].sort((a, b) => a - b);
    return s[s.length >> 1];
}

const envs = sizes.map((n) => {
    const t0 = process.hrtime.bigint();
    const env = childEnvironment({ policy: new AllowPolicy(rulesFor(n)), mode: 'enforce', log: 'stderr' });
    return { env, setupMs: Number(process.hrtime.bigint() - t0) / 1e6 };
});
{
    const big = envs[envs.length - 1].env;
    const [hash, , ...path] = (big.TETHERED_POLICY_IMAGE ?? '').split(':');
    if (big.TETHERED_POLICY_IMAGE) {
        sizes.push(FILE_ONLY);
        envs.push({ env: { ...big, TETHERED_POLICY_IMAGE: `${hash}:-:${path.join(':')}` }, setupMs: 0 });
    }
}
const plain = { ...process.env, LD_PRELOAD: '' };
const samples = envs.map(() => []);
const bare = [];
const once = (env) => {
    const [wall, cpu, rss, status] = execFileSync(starter, ['/bin/true'], { env, encoding: 'utf8' }).trim().split(' ').map(Number);
    if (status !== 0) throw new Error(`true exited ${status}`);
    return { wall, cpu, rss };
};
for (let r = 0; r < rounds + 1; r++) {
    const round = [once(plain), ...envs.map(({ env }) => once(env))];
    if (r === 0) continue; // warm-up: page cache, the image written
    bare.push(round[0]);
    round.slice(1).forEach((m, i) => samples[i].push(m));
}
const summary = (ms) => ({ wallMs: median(ms.map((m) => m.wall)) / 1000, cpuMs: median(ms.map((m) => m.cpu)) / 1000, rssMB: median(ms.map((m) => m.rss)) / 1024 });
const results = { withoutShim: summary(bare), sizes: sizes.map((n, i) => ({ rules: n, setupMs: envs[i].setupMs, ...summary(samples[i]) })) };
const base = results.sizes[0];
for (const s of results.sizes) Object.assign(s, { extraWallMs: s.wallMs - base.wallMs, extraCpuMs: s.cpuMs - base.cpuMs, extraRssMB: s.rssMB - base.rssMB });

if (values.json) {
    console.log(JSON.stringify(results, null, 2));
} else {
    const b = results.withoutShim;
    console.log(`preloaded /bin/true, medians of ${rounds} alternating rounds (without the shim: ${b.wallMs.toFixed(2)} ms wall, ${b.cpuMs.toFixed(2)} ms CPU, ${b.rssMB.toFixed(1)} MB)`);
    console.log('rules           wall ms   cpu ms   RSS MB   +wall ms  +cpu ms  +RSS MB  parent setup ms');
    for (const s of results.sizes) {
        console.log(
            `${String(s.rules).padEnd(14)} ${s.wallMs.toFixed(2).padStart(8)} ${s.cpuMs.toFixed(2).padStart(8)} ${s.rssMB.toFixed(1).padStart(8)} ${s.extraWallMs.toFixed(2).padStart(9)} ${s.extraCpuMs.toFixed(2).padStart(8)} ${s.extraRssMB.toFixed(1).padStart(8)} ${s.setupMs.toFixed(0).padStart(16)}`,
        );
    }
    const top = results.sizes.find((s) => s.rules === 100000);
    const ok = top.extraWallMs <= 5 && top.extraRssMB <= 16;
    console.log(`100,000 rules vs none: +${top.extraWallMs.toFixed(2)} ms, +${top.extraRssMB.toFixed(1)} MB (target: at most 5 ms and 16 MB) — ${ok ? 'within target' : 'OVER TARGET'}`);
}
