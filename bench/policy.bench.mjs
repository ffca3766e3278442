// Nanoseconds per AllowPolicy decision at 10, 1,000 and 100,000 rules (a mix of exact names with and
// without ports, leftmost wildcards, in-label wildcards, IPv4 and IPv6 CIDRs with and without ports).
// The same destinations are asked at every size, so the ratio shows what the size of the policy costs.
// Target (issue 2): 100,000 rules within 3x of 10 rules.
//
//   node bench/policy.bench.mjs [--rounds N] [--json]
import { parseArgs } from 'node:util';
import { AllowPolicy } from '../dist/index.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, json: { type: 'boolean' } } });

function rulesFor(count) {
    const rules = [];
    for (let i = 0; rules.length < count; i++) {
        const a = (i >> 8) & 0xff;
        const b = i & 0xff;
        switch (i % 8) {
            case 0: rules.push(`svc${i}.example.com:443`); break;
            case 1: rules.push(`host${i}.internal`); break;
            case 2: rules.push(`*.tenant${i}.example.net`); break;
            case 3: rules.push(`api-*.zone${i}.example.org:8443`); break;
            case 4: rules.push(`10.${a}.${b}.0/24`); break;
            case 5: rules.push(`172.${16 + (a & 15)}.${b}.${i % 200}:5432`); break;
            case 6: rules.push(`[2001:db8:${a.toString(16)}:${b.toString(16)}::]/64:443`); break;
            default: rules.push(`*.cdn${i}.example.com:80-90`); break;
        }
    }
    return rules;
}

// Destinations that hit rules present at every size (indices < 10) and destinations that miss.
const QUERIES = [
    ['svc0.example.com', 443], ['host1.internal', 22], ['a.b.tenant2.example.net', 443], ['api-eu.zone3.example.org', 8443],
    ['10.0.4.77', 80], ['172.16.5.5', 5432], ['2001:db8:0:6::1', 443], ['img.cdn7.example.com', 85],
    ['svc8.example.com', 443], ['missing.example.com', 443], ['x.tenant999999.example.net', 443], ['192.0.2.1', 443],
    ['2001:db8:ffff::1', 443], ['API.EXAMPLE.ORG.', 443], ['127.0.0.1', 8080], ['0x7f.1', 80],
];

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
