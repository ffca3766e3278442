/**
 * What `tethered check` reports about a policy: each rule in normal form or its error, and warnings about
 * rules that are over-broad, duplicated, shadowed by another rule, dead under a deny rule, or redundant
 * with allowLocalhost. Pure: the CLI does the reading and printing.
 */
import { coveredByLocalhost, covers, overBroad } from './coverage.js';
import { InvalidRuleError } from './errors.js';
import { type Rule, parseRule } from './rule.js';

export interface RuleReport {
    readonly list: 'allow' | 'deny';
    readonly source: string;
    /** The normal form, or null when the rule is invalid. */
    readonly text: string | null;
    readonly error: InvalidRuleError | null;
}

export interface Warning {
    readonly kind: 'over-broad' | 'duplicate' | 'shadowed' | 'dead' | 'redundant-localhost';
    readonly list: 'allow' | 'deny';
    readonly rule: string;
    /** The other rule involved, when there is one. */
    readonly other: string | null;
    readonly message: string;
}

export interface Analysis {
    readonly rules: readonly RuleReport[];
    readonly errors: readonly InvalidRuleError[];
    readonly warnings: readonly Warning[];
}

export interface PolicyInput {
    readonly allow: readonly string[];
    readonly deny?: readonly string[] | undefined;
    readonly allowLocalhost?: boolean | undefined;
}

function parseAll(list: 'allow' | 'deny', sources: readonly string[]): { reports: RuleReport[]; rules: Rule[] } {
    const reports: RuleReport[] = [];
    const rules: Rule[] = [];
    for (const source of sources) {
        try {
            const rule = parseRule(source);
            rules.push(rule);
            reports.push({ list, source, text: rule.text, error: null });
        } catch (err) {
            if (!(err instanceof InvalidRuleError)) throw err;
            reports.push({ list, source, text: null, error: err });
        }
    }
    return { reports, rules };
}

/** Warnings for one list: duplicates and rules another rule of the same list already covers. */
function overlaps(list: 'allow' | 'deny', rules: readonly Rule[], out: Warning[]): Set<Rule> {
    const flagged = new Set<Rule>();
    rules.forEach((rule, i) => {
        const twin = rules.findIndex((r) => r.text === rule.text);
        if (twin < i) {
            out.push({ kind: 'duplicate', list, rule: rule.text, other: null, message: `'${rule.text}' is listed more than once` });
            flagged.add(rule);
            return;
        }
        const wider = rules.find((other) => other !== rule && other.text !== rule.text && covers(other, rule));
        if (wider) {
            const message = `'${rule.text}' is shadowed by '${wider.text}': it ${list === 'allow' ? 'allows' : 'denies'} nothing more`;
            out.push({ kind: 'shadowed', list, rule: rule.text, other: wider.text, message });
            flagged.add(rule);
        }
    });
    return flagged;
}

export function analysePolicy(input: PolicyInput): Analysis {
    const allow = parseAll('allow', input.allow);
    const deny = parseAll('deny', input.deny ?? []);
    const reports = [...allow.reports, ...deny.reports];
    const errors = reports.flatMap((r) => (r.error ? [r.error] : []));
    const warnings: Warning[] = [];
    const flagged = overlaps('allow', allow.rules, warnings);
    overlaps('deny', deny.rules, warnings);
    for (const rule of allow.rules) {
        const killer = deny.rules.find((d) => covers(d, rule));
        if (killer) {
            const message = `'${rule.text}' never allows anything: deny rule '${killer.text}' covers it`;
            warnings.push({ kind: 'dead', list: 'allow', rule: rule.text, other: killer.text, message });
        } else if (!flagged.has(rule) && (input.allowLocalhost ?? true) && coveredByLocalhost(rule)) {
            const message = `'${rule.text}' is redundant: localhost is allowed already (allowLocalhost)`;
            warnings.push({ kind: 'redundant-localhost', list: 'allow', rule: rule.text, other: null, message });
        }
    }
    for (const [list, rules] of [['allow', allow.rules], ['deny', deny.rules]] as const) {
        for (const rule of rules) {
            const why = list === 'allow' ? overBroad(rule) : null;
            if (why) warnings.push({ kind: 'over-broad', list, rule: rule.text, other: null, message: `'${rule.text}' is over-broad: ${why}` });
        }
    }
    return { rules: reports, errors, warnings };
}
