/**
 * `AllowPolicy`: the reference decision of docs/rules.md (Deciding). Pure and immutable: rules are parsed and indexed
 * once, in the constructor; every question afterwards is answered from the indexes without I/O.
 */
import { AddressIndex } from './address-index.js';
import { type Destination, ipDestination, normaliseDestination } from './destination.js';
import { type IpAddress, formatIp, isLocalhostIp } from './ip.js';
import { NameIndex } from './name-index.js';
import { ANY_PORT, EVERY_PORT } from './ports.js';
import { type Rule, parseRule } from './rule.js';

export interface AllowPolicyOptions {
    /** Rules that block even what an allow rule (or localhost) lets through. */
    readonly deny?: readonly string[] | undefined;
    /** localhost, 127.0.0.0/8, ::1, 0.0.0.0 and :: are allowed without a rule. Default true. */
    readonly allowLocalhost?: boolean | undefined;
}

export type ExplanationReason = 'allow-rule' | 'localhost' | 'deny-rule' | 'no-rule' | 'invalid-host';

export interface Explanation {
    readonly allowed: boolean;
    readonly reason: ExplanationReason;
    /** The rule that decided (normal form): the allow rule that matched, or the deny rule that won. */
    readonly rule: string | null;
    /** When blocked for want of a rule: the rule that would allow this destination. */
    readonly suggestion: string | null;
    /** The destination name in normal form, when there is one (the matching name, for a connect). */
    readonly host: string | null;
    /** The destination address in normal form, when there is one. */
    readonly ip: string | null;
    readonly port: number | null;
    readonly message: string;
}

interface Verdict {
    readonly reason: ExplanationReason;
    readonly rule: Rule | null;
    /** For a connect judged by a name it was resolved from: that name. */
    readonly name: string | null;
}

const LOCALHOST: Verdict = { reason: 'localhost', rule: null, name: null };
const NO_RULE: Verdict = { reason: 'no-rule', rule: null, name: null };

function checkPort(port: number | undefined): number {
    if (port === undefined) return ANY_PORT;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new RangeError(`A port must be an integer from 0 to 65535, got ${String(port)}`);
    }
    return port;
}

function ruleList(what: string, rules: unknown): readonly string[] {
    if (rules === undefined) return [];
    if (!Array.isArray(rules)) throw new TypeError(`${what} must be an array of rule strings`);
    return rules as readonly string[];
}

export class AllowPolicy {
    /** The allow rules, parsed, in the order given. */
    readonly allow: readonly Rule[];
    /** The deny rules, parsed, in the order given. */
    readonly deny: readonly Rule[];
    readonly allowLocalhost: boolean;

    readonly #allowNames = new NameIndex();
    readonly #allowAddresses = new AddressIndex();
    readonly #denyNames = new NameIndex();
    readonly #denyAddresses = new AddressIndex();

    /** Throws `InvalidRuleError` for the first rule that does not parse. */
    constructor(allow: readonly string[], options: AllowPolicyOptions = {}) {
        this.allow = Object.freeze(ruleList('allow', allow).map(parseRule).map((r) => Object.freeze(r)));
        this.deny = Object.freeze(ruleList('deny', options.deny).map(parseRule).map((r) => Object.freeze(r)));
        if (options.allowLocalhost !== undefined && typeof options.allowLocalhost !== 'boolean') {
            throw new TypeError('allowLocalhost must be a boolean');
        }
        this.allowLocalhost = options.allowLocalhost ?? true;
        for (const rule of this.allow) {
            if (rule.kind === 'address') this.#allowAddresses.add(rule);
            else this.#allowNames.add(rule);
        }
        for (const rule of this.deny) {
            if (rule.kind === 'address') this.#denyAddresses.add(rule);
            else this.#denyNames.add(rule);
        }
        Object.freeze(this);
    }

    /**
     * May the process reach `host` (a name or an address, in any spelling the C library accepts) on `port`?
     * Without a port the question is the one a name lookup asks: is some port of this host allowed?
     */
    isAllowed(host: string, port?: number): boolean {
        return allowed(this.#judge(normaliseDestination(host), checkPort(port), []));
    }

    explain(host: string, port?: number): Explanation {
        const p = checkPort(port);
        const dest = normaliseDestination(host);
        return explanation(dest, p, [], this.#judge(dest, p, []));
    }

    /**
     * The connect-time question: may the process reach address `ip` on `port`, given the names this process
     * resolved to that address? Blocked if a deny rule matches the address or any of the names; else allowed
     * by localhost, an address rule, or a name rule matching any of the names.
     */
    isConnectAllowed(ip: string, port: number, names: readonly string[] = []): boolean {
        const [dest, normalNames] = connectArgs(ip, names);
        return allowed(this.#judge(dest, checkPort(port), normalNames));
    }

    explainConnect(ip: string, port: number, names: readonly string[] = []): Explanation {
        const [dest, normalNames] = connectArgs(ip, names);
        const p = checkPort(port);
        return explanation(dest, p, normalNames, this.#judge(dest, p, normalNames));
    }

    #judge(dest: Destination, port: number, names: readonly string[]): Verdict {
        if (dest.kind === 'invalid') return { reason: 'invalid-host', rule: null, name: null };
        const denyPort = port === ANY_PORT ? EVERY_PORT : port;
        if (dest.kind === 'name') {
            const denied = this.#denyNames.match(dest.name, denyPort);
            if (denied) return { reason: 'deny-rule', rule: denied, name: null };
            if (this.allowLocalhost && dest.name === 'localhost') return LOCALHOST;
            const rule = this.#allowNames.match(dest.name, port);
            return rule ? { reason: 'allow-rule', rule, name: null } : NO_RULE;
        }
        const deniedIp = this.#denyAddresses.match(dest.ip, denyPort);
        if (deniedIp) return { reason: 'deny-rule', rule: deniedIp, name: null };
        for (const name of names) {
            const denied = this.#denyNames.match(name, denyPort);
            if (denied) return { reason: 'deny-rule', rule: denied, name };
        }
        if (this.allowLocalhost && isLocalhostIp(dest.ip)) return LOCALHOST;
        const rule = this.#allowAddresses.match(dest.ip, port);
        if (rule) return { reason: 'allow-rule', rule, name: null };
        for (const name of names) {
            const byName = this.#allowNames.match(name, port);
            if (byName) return { reason: 'allow-rule', rule: byName, name };
        }
        return NO_RULE;
    }
}

function allowed(verdict: Verdict): boolean {
    return verdict.reason === 'allow-rule' || verdict.reason === 'localhost';
}

function connectArgs(ip: string, names: readonly string[]): [Destination, string[]] {
    const given: unknown = names;
    if (!Array.isArray(given)) throw new TypeError('names must be an array of host names');
    const dest = normaliseDestination(ip);
    if (dest.kind !== 'ip') throw new TypeError(`${JSON.stringify(ip)} is not an IP address`);
    const normal: string[] = [];
    for (const name of names) {
        const d = normaliseDestination(name);
        if (d.kind === 'name' && !normal.includes(d.name)) normal.push(d.name);
    }
    return [ipDestination(dest.ip), normal];
}

function withPort(target: string, port: number): string {
    return port >= 0 ? `${target}:${port}` : target;
}

function ipTarget(ip: IpAddress): string {
    const text = formatIp(ip);
    return ip.family === 6 ? `[${text}]` : text;
}

function explanation(dest: Destination, port: number, names: readonly string[], verdict: Verdict): Explanation {
    const p = port >= 0 ? port : null;
    if (dest.kind === 'invalid') {
        return {
            allowed: false,
            reason: 'invalid-host',
            rule: null,
            suggestion: null,
            host: null,
            ip: null,
            port: p,
            message: `${JSON.stringify(dest.text)} is not a valid destination (${dest.problem}) and matches no rule`,
        };
    }
    const ip = dest.kind === 'ip' ? formatIp(dest.ip) : null;
    const host = dest.kind === 'name' ? dest.name : (verdict.name ?? names[0] ?? null);
    let label: string;
    if (dest.kind === 'name') label = withPort(dest.name, port);
    else if (host !== null) label = `${withPort(host, port)} (${ip})`;
    else label = withPort(ipTarget(dest.ip), port);
    const rule = verdict.rule ? verdict.rule.text : null;
    switch (verdict.reason) {
        case 'allow-rule':
            return { allowed: true, reason: verdict.reason, rule, suggestion: null, host, ip, port: p, message: `${label} is allowed by '${rule}'` };
        case 'localhost':
            return { allowed: true, reason: verdict.reason, rule, suggestion: null, host, ip, port: p, message: `${label} is allowed as localhost (allowLocalhost)` };
        case 'deny-rule':
            return {
                allowed: false,
                reason: verdict.reason,
                rule,
                suggestion: null,
                host,
                ip,
                port: p,
                message: `${label} is denied by '${rule}' (deny rules win over allow rules)`,
            };
        default: {
            const target = host !== null ? withPort(host, port) : withPort(ipTarget((dest as { ip: IpAddress }).ip), port);
            return {
                allowed: false,
                reason: 'no-rule',
                rule: null,
                suggestion: target,
                host,
                ip,
                port: p,
                message: `${label} is not in the allow list — allow it with '${target}'`,
            };
        }
    }
}

/** A policy's rules in normal form, as the shim, children and workers are given them. */
export function normalRules(policy: AllowPolicy): { allow: string[]; deny: string[]; allowLocalhost: boolean } {
    return { allow: policy.allow.map((r) => r.text), deny: policy.deny.map((r) => r.text), allowLocalhost: policy.allowLocalhost };
}
