/**
 * Relations between rules, for `tethered check`: does one rule cover another (so the second adds nothing),
 * and is a rule broader than anyone means? Pure, and conservative: a pair it cannot prove is "not covered".
 */
import { isLocalhostIp, maskIpv4, maskIpv6 } from './ip.js';
import { globMatches } from './name-index.js';
import type { PortRange, Rule, WildcardRule } from './rule.js';

function portsCover(outer: PortRange | null, inner: PortRange | null): boolean {
    if (outer === null) return true;
    if (inner === null) return false;
    return outer.low <= inner.low && inner.high <= outer.high;
}

/** Does the pattern (labels, left to right, leftmost `*` = one or more labels) match this exact name? */
export function patternMatches(labels: readonly string[], name: string): boolean {
    const parts = name.split('.');
    const oneOrMore = labels[0] === '*';
    const fixed = oneOrMore ? labels.slice(1) : labels;
    if (oneOrMore ? parts.length <= fixed.length : parts.length !== fixed.length) return false;
    const offset = parts.length - fixed.length;
    return fixed.every((label, i) => {
        const part = parts[offset + i] as string;
        return label.includes('*') ? globMatches(label.split('*'), part) : label === part;
    });
}

/** For `*.a.b` with only literal labels after the `*`: those labels. Otherwise null. */
function literalSuffix(rule: WildcardRule): readonly string[] | null {
    if (rule.labels[0] !== '*') return null;
    const rest = rule.labels.slice(1);
    return rest.some((l) => l.includes('*')) ? null : rest;
}

/** True when every destination `inner` matches is matched by `outer` (ports included). */
export function covers(outer: Rule, inner: Rule): boolean {
    if (!portsCover(outer.ports, inner.ports)) return false;
    if (outer.kind === 'address' || inner.kind === 'address') {
        if (outer.kind !== 'address' || inner.kind !== 'address') return false;
        if (outer.ip.family !== inner.ip.family || outer.prefix > inner.prefix) return false;
        if (outer.ip.family === 4 && inner.ip.family === 4) return maskIpv4(inner.ip.v4, outer.prefix) === outer.ip.v4;
        if (outer.ip.family === 6 && inner.ip.family === 6) {
            const network = outer.ip.v6;
            return maskIpv6(inner.ip.v6, outer.prefix).every((w, k) => w === network[k]);
        }
        return false;
    }
    if (outer.kind === 'name') return inner.kind === 'name' && inner.name === outer.name;
    if (inner.kind === 'name') return patternMatches(outer.labels, inner.name);
    if (outer.text.replace(/:.*$/, '') === inner.text.replace(/:.*$/, '')) return true;
    // `*.T` covers any pattern that ends in the literal labels T and has at least one label more.
    const suffix = literalSuffix(outer);
    if (!suffix) return false;
    const labels = inner.labels;
    if (labels.length <= suffix.length) return false;
    const tail = labels.slice(labels.length - suffix.length);
    return tail.every((l, i) => l === suffix[i]);
}

/** Is everything this allow rule matches already let through by allowLocalhost? */
export function coveredByLocalhost(rule: Rule): boolean {
    if (rule.kind === 'name') return rule.name === 'localhost';
    if (rule.kind !== 'address') return false;
    if (rule.ip.family === 4) return rule.prefix >= 8 && rule.ip.v4 >>> 24 === 127;
    return rule.prefix === 128 && isLocalhostIp(rule.ip);
}

// Second-level labels under which registries sell names (co.uk, com.au, …): a wildcard over one of
// them is as broad as a wildcard over a top-level domain. A heuristic, not the Public Suffix List.
const REGISTRY_LABELS = new Set(['co', 'com', 'net', 'org', 'gov', 'edu', 'ac', 'ne', 'or', 'go']);

/** Why this rule is broader than anyone usually means, or null. */
export function overBroad(rule: Rule): string | null {
    if (rule.kind === 'address') {
        if (rule.prefix === 0) return `it allows every IPv${rule.ip.family} address`;
        if (rule.ip.family === 4 && rule.prefix < 8) return `/${rule.prefix} covers more than 16 million addresses`;
        if (rule.ip.family === 6 && rule.prefix < 16) return `/${rule.prefix} covers a large part of the IPv6 internet`;
        return null;
    }
    if (rule.kind === 'name') return null;
    const literal = rule.labels.filter((l) => !l.includes('*'));
    const last = rule.labels[rule.labels.length - 1] as string;
    if (last.includes('*')) return 'its top-level label is a wildcard, so it matches the name under every top-level domain';
    if (literal.length === 1) return `it matches names anywhere under the top-level domain '${last}'`;
    if (literal.length === 2 && REGISTRY_LABELS.has(literal[0] as string)) {
        return `it allows every name under the public suffix '${literal.join('.')}'`;
    }
    return null;
}
