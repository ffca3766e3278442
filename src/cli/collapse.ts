/**
 * `tethered learn --collapse`: where several sibling rules were learned, one wider rule would do —
 * `a.x.com:443` and `b.x.com:443` as `*.x.com:443`, `10.0.0.1:80` and `10.0.0.7:80` as `10.0.0.0/24:80`.
 * Wider means more is allowed than was seen, so these are suggestions; learn applies them only when asked
 * (--collapse-apply). A suggestion `tethered check` would call over-broad is never made.
 */
import { overBroad } from '../policy/coverage.js';
import { parseRule } from '../policy/index.js';

export interface Collapse {
    /** The wider rule. */
    readonly rule: string;
    /** The rules it replaces, in the order given. */
    readonly replaces: readonly string[];
}

/** Suggestions for these allow rules (normal form). Pure. */
export function collapseSuggestions(rules: readonly string[]): Collapse[] {
    const groups = new Map<string, string[]>();
    for (const text of rules) {
        let rule;
        try {
            rule = parseRule(text);
        } catch {
            continue;
        }
        const colon = text.lastIndexOf(':');
        const ports = rule.ports === null ? '' : text.slice(colon);
        let wider: string | null = null;
        if (rule.kind === 'name') {
            const labels = rule.name.split('.');
            if (labels.length >= 3) wider = `*.${labels.slice(1).join('.')}${ports}`;
        } else if (rule.kind === 'address' && rule.ip.family === 4 && rule.prefix === 32) {
            const octets = rule.text.replace(/:.*$/, '').split('.');
            wider = `${octets.slice(0, 3).join('.')}.0/24${ports}`;
        }
        if (wider === null) continue;
        const members = groups.get(wider) ?? [];
        members.push(text);
        groups.set(wider, members);
    }
    const out: Collapse[] = [];
    for (const [wider, members] of groups) {
        if (members.length < 2) continue;
        if (overBroad(parseRule(wider)) !== null) continue;
        out.push({ rule: wider, replaces: members });
    }
    return out;
}

/** The rules with each suggestion applied: the wider rule where the first rule it replaces stood. */
export function applyCollapses(rules: readonly string[], collapses: readonly Collapse[]): string[] {
    const replacedBy = new Map<string, string>();
    for (const c of collapses) for (const r of c.replaces) replacedBy.set(r, c.rule);
    return [...new Set(rules.map((r) => replacedBy.get(r) ?? r))];
}
