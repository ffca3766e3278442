/**
 * The decisions the JavaScript makes while running, asked of the compiled native policy (docs/rules.md,
 * One normal form; the native matcher is the authority at run time): whether an attempt may be refused
 * (so that a stack is worth capturing), and which layer refuses a lookup and why. The TypeScript engine
 * (policy/) parses and explains; it is not consulted here.
 */
import { DECIDE_LOOKUP, DECIDE_POLICY, DECIDE_SCOPES, nativeDecide, wordView } from './native.js';
import type { Explanation } from './policy/index.js';
import { runtime, type ScopeFrame } from './runtime.js';

// The answers of mayRefuse() by scope, port and host, good while the shim's count of configurations put in
// force (any copy, any thread) stays what it was when they were given: a scope never changes once made,
// and its id is never used again. A connect asks once per request, right after the system calls of the
// last one, when a call into native code finds its caches cold (about 3.5 us against 0.5 us warm); the
// answer kept here costs a Map lookup. What is kept only chooses whether a stack is captured: the hooks
// judge every attempt themselves.
const KEPT_LIMIT = 256;
const kept = new Map<string, boolean>();
let keptUnder = -1;
let generationWord: Uint32Array | null | undefined;

function askNative(host: string, port: number, frame: ScopeFrame | null): boolean {
    try {
        return nativeDecide(runtime().addon, host, port, frame?.native ?? null, DECIDE_POLICY | DECIDE_SCOPES) !== null;
    } catch {
        return true;
    }
}

/**
 * Could the policy in force (the environment's included) or a scope of `frame` refuse `host` on `port`?
 * Capturing a stack costs microseconds, so it is done only for attempts that may be refused. Anything that
 * cannot be asked (no host, a port out of range) may be refused.
 */
export function mayRefuse(host: unknown, port: unknown, frame: ScopeFrame | null): boolean {
    if (typeof host !== 'string' || host === '') return true;
    const p = typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port)) ? Number(port) : -1;
    if (!Number.isInteger(p) || p < -1 || p > 65535) return true;
    // a name longer than any DNS name is asked each time, not kept (the key would hold it)
    if (host.length > 255) return askNative(host, p, frame);
    if (generationWord === undefined) generationWord = wordView(() => runtime().addon.decideGeneration());
    if (generationWord === null) return askNative(host, p, frame);
    // an atomic load: on a weakly ordered CPU a plain one could be served after the native call reads the
    // configuration, and an old answer would be kept under the new number
    const generation = Atomics.load(generationWord, 0);
    if (generation !== keptUnder) {
        kept.clear();
        keptUnder = generation;
    }
    const key = `${frame?.id ?? 0} ${p} ${host}`;
    const known = kept.get(key);
    if (known !== undefined) return known;
    const answer = askNative(host, p, frame);
    if (kept.size >= KEPT_LIMIT) kept.clear();
    kept.set(key, answer);
    return answer;
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
