/**
 * The questions the wrappers ask of the policy in force and of the scopes the caller is in, while running.
 * Two decision points, named for what they decide (issue 11 item 3 moves their answers to the native
 * matcher):
 *
 *  - mayBeRefused(host, port): could this destination be refused? Decides whether a wrapper captures the
 *    caller's stack (microseconds) for an attempt.
 *  - firstRefusal(name, frame, withGlobal): which policy refuses a lookup of this name, and why? Decides a
 *    scope's refusal before a lookup goes to the pool, and explains a refused lookup.
 */
import { hostname } from 'node:os';
import type { EgressOp } from './errors.js';
import type { EgressEvent } from './errors.js';
import { lookupEvent } from './event.js';
import { normaliseDestination, type AllowPolicy, type Explanation } from './policy/index.js';
import { globalState, logOnly, runtime, scopes, type ScopeFrame } from './runtime.js';

/**
 * Could the policy in force or a scope the caller is in refuse this destination? Capturing a stack costs
 * microseconds, so it is done only for attempts that may be refused (always when the policy is not known
 * here: preloaded from the environment).
 */
export function mayBeRefused(host: unknown, port?: unknown): boolean {
    const policy = globalState()?.policy;
    const frame = scopes.getStore() ?? null;
    // No policy known here and no scope: only a policy the shim read from the environment can refuse.
    if (!policy && !frame) return runtime().addon.active();
    if (typeof host !== 'string' || host === '') return true;
    const p = typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port)) ? Number(port) : undefined;
    if (p !== undefined && (p < 0 || p > 65535)) return true;
    try {
        if (policy && !allowedCached(policy, host, p)) return true;
        for (let f = frame; f; f = f.parent) if (!allowedCached(f.policy, host, p)) return true;
    } catch {
        return true;
    }
    return false;
}

// isAllowed answers by policy, for the destinations a process keeps going to (bounded, cleared when full).
const answers = new WeakMap<AllowPolicy, Map<string, boolean>>();

function allowedCached(policy: AllowPolicy, host: string, port: number | undefined): boolean {
    let known = answers.get(policy);
    if (!known) answers.set(policy, (known = new Map<string, boolean>()));
    const key = port === undefined ? host : `${host} ${port}`;
    let answer = known.get(key);
    if (answer === undefined) {
        if (known.size >= 1024) known.clear();
        answer = policy.isAllowed(host, port);
        known.set(key, answer);
    }
    return answer;
}

/** The label of the innermost labelled scope of a chain, or null. */
export function labelOf(frame: ScopeFrame | null): string | null {
    for (let f = frame; f; f = f.parent) if (f.label) return f.label;
    return null;
}

/**
 * The first of the policy in force (when `withGlobal`) and the scopes of `frame` that refuses a lookup of
 * `name`: its explanation, and the scope it belongs to (null: the policy in force).
 */
export function firstRefusal(name: string, frame: ScopeFrame | null, withGlobal: boolean): { x: Explanation; by: ScopeFrame | null } | null {
    const policy = withGlobal ? globalState()?.policy : undefined;
    if (policy) {
        const x = policy.explain(name);
        if (!x.allowed) return { x, by: null };
    }
    for (let f = frame; f; f = f.parent) {
        const x = f.policy.explain(name);
        if (!x.allowed) return { x, by: f };
    }
    return null;
}

const ownName = normaliseDestination(hostname());

/** A lookup the scopes the caller is in do not allow (numeric names and this machine's name are no lookups). */
export function scopeRefusal(name: string, frame: ScopeFrame | null, op: EgressOp, stack: string | undefined): EgressEvent | null {
    if (!frame || typeof name !== 'string') return null;
    const dest = normaliseDestination(name);
    if (dest.kind === 'ip' || (dest.kind === 'name' && ownName.kind === 'name' && dest.name === ownName.name)) return null;
    const r = firstRefusal(name, frame, false);
    return r && lookupEvent(r.x, name, op, logOnly() ? 'would-block' : 'block', r.by?.label ?? labelOf(frame), stack);
}
