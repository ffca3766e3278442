/**
 * The decisions the JavaScript makes while running, asked of the compiled native policy (docs/rules.md,
 * One normal form; the native matcher is the authority at run time): whether an attempt may be refused
 * (so that a stack is worth capturing), and which layer refuses a lookup and why. The TypeScript engine
 * (policy/) parses and explains; it is not consulted here.
 */
import { DECIDE_LOOKUP, DECIDE_POLICY, DECIDE_SCOPES, nativeDecide } from './native.js';
import type { Explanation } from './policy/index.js';
import { runtime, type ScopeFrame } from './runtime.js';

/**
 * Could the policy in force (the environment's included) or a scope of `frame` refuse `host` on `port`?
 * Capturing a stack costs microseconds, so it is done only for attempts that may be refused. Anything that
 * cannot be asked (no host, a port out of range) may be refused.
 */
export function mayRefuse(host: unknown, port: unknown, frame: ScopeFrame | null): boolean {
    if (typeof host !== 'string' || host === '') return true;
    const p = typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port)) ? Number(port) : -1;
    if (!Number.isInteger(p) || p < -1 || p > 65535) return true;
    try {
        return nativeDecide(runtime().addon, host, p, frame?.native ?? null, DECIDE_POLICY | DECIDE_SCOPES) !== null;
    } catch {
        return true;
    }
}

/**
 * The refusal of a lookup of `name` by the policy in force (when `withPolicy`) or a scope of `frame`: as
 * an explanation, with the scope that refused (null: the policy in force). null when allowed, or when the
 * name is no lookup (a numeric name, this machine's name).
 */
export function lookupRefusal(name: string, frame: ScopeFrame | null, withPolicy: boolean): { x: Explanation; by: ScopeFrame | null } | null {
    const layers = (withPolicy ? DECIDE_POLICY : 0) | (frame ? DECIDE_SCOPES : 0);
    if (layers === 0) return null;
    const r = nativeDecide(runtime().addon, name, -1, frame?.native ?? null, layers | DECIDE_LOOKUP);
    if (!r) return null;
    let by: ScopeFrame | null = null;
    for (let f = frame; f && r.scope !== 0; f = f.parent) {
        if (f.id === r.scope) {
            by = f;
            break;
        }
    }
    const target = r.host ?? JSON.stringify(name);
    const message =
        r.reason === 'deny-rule'
            ? `${target} is denied by '${r.rule ?? ''}' (deny rules win over allow rules)`
            : r.reason === 'no-rule'
              ? `${target} is not in the allow list — allow it with '${r.rule ?? target}'`
              : `${target} is not a valid destination and matches no rule`;
    const x: Explanation = {
        allowed: false,
        reason: r.reason,
        rule: r.reason === 'deny-rule' ? r.rule : null,
        suggestion: r.reason === 'no-rule' ? r.rule : null,
        host: r.host,
        ip: null,
        port: null,
        message,
    };
    return { x, by };
}
