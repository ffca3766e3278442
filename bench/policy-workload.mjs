// The policy workload both decision benchmarks use: a mix of exact names with and without ports, leftmost
// wildcards, in-label wildcards, IPv4 and IPv6 CIDRs, and destinations that hit rules present at every size
// (indices < 10) or miss.
export function rulesFor(count) {
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

export const QUERIES = [
    ['svc0.example.com', 443], ['host1.internal', 22], ['a.b.tenant2.example.net', 443], ['api-eu.zone3.example.org', 8443],
    ['10.0.4.77', 80], ['172.16.5.5', 5432], ['2001:db8:0:6::1', 443], ['img.cdn7.example.com', 85],
    ['svc8.example.com', 443], ['missing.example.com', 443], ['x.tenant999999.example.net', 443], ['192.0.2.1', 443],
    ['2001:db8:ffff::1', 443], ['API.EXAMPLE.ORG.', 443], ['127.0.0.1', 8080], ['0x7f.1', 80],
];
