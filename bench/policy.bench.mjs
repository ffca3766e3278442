// Nanoseconds per AllowPolicy decision at 10, 1,000 and 100,000 rules (a mix of exact names with and
// without ports, leftmost wildcards, in-label wildcards, IPv4 and IPv6 CIDRs with and without ports).
// The same destinations are asked at every size, so the ratio shows what the size of the policy costs.
// Target (issue 2): 100,000 rules within 3x of 10 rules.
//
//   node bench/policy.bench.mjs [--rounds N] [--json]
import { parseArgs } from 'node:util';
import { AllowPolicy } from '../dist/index.js';
import { QUERIES, rulesFor } from './policy-workload.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, json: { type: 'boolean' } } });

function nsPerDecision(policy, iterations) {
    let allowed = 0;
    const start = process.hrtime.bigint();
    for (let n = 0; n < iterations; n++) {
        for (const [host, port] of QUERIES) if (policy.isAllowed(host, port)) allowed++;
    }
    const ns = Number(process.hrtime.bigint() - start);
    return { ns: ns / (iterations * QUERIES.length), allowed };
}

const sizes = [10, 1000, 100000];
const results = [];
for (const size of sizes) {
    const t0 = process.hrtime.bigint();
    const policy = new AllowPolicy(rulesFor(size));
    const buildMs = Number(process.hrtime.bigint() - t0) / 1e6;
    nsPerDecision(policy, 20000); // warm up the JIT
    const rounds = [];
    let allowed = 0;
    for (let r = 0; r < Number(values.rounds); r++) {
        const m = nsPerDecision(policy, 20000);
        rounds.push(m.ns);
        allowed = m.allowed / 20000;
    }
    rounds.sort((x, y) => x - y);
    results.push({ rules: size, nsPerDecision: rounds[rounds.length >> 1], buildMs, allowedPerRound: allowed });
}
const base = results[0].nsPerDecision;
for (const r of results) r.ratioTo10 = r.nsPerDecision / base;

if (values.json) {
    console.log(JSON.stringify(results, null, 2));
} else {
    console.log(`AllowPolicy.isAllowed, ${QUERIES.length} destinations per round, median of ${values.rounds} rounds (node ${process.version})`);
    console.log('rules      ns/decision  vs 10 rules  build ms  allowed/round');
    for (const r of results) {
        console.log(
            `${String(r.rules).padEnd(9)}  ${r.nsPerDecision.toFixed(0).padStart(11)}  ${r.ratioTo10.toFixed(2).padStart(10)}x  ${r.buildMs.toFixed(1).padStart(8)}  ${String(r.allowedPerRound).padStart(13)}`,
        );
    }
    const worst = results[results.length - 1].ratioTo10;
    console.log(`100,000 rules vs 10 rules: ${worst.toFixed(2)}x (target: at most 3x) — ${worst <= 3 ? 'within target' : 'OVER TARGET'}`);
}
