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
import type { EgressOp } from './errors.js';
import type { EgressEvent } from './errors.js';
import { lookupEvent } from './event.js';
import type { Explanation } from './policy/index.js';
import { lookupRefusal, mayRefuse } from './decide.js';
import { currentFrame, logOnly, type ScopeFrame } from './runtime.js';

/**
 * Could the policy in force or a scope the caller is in refuse this destination? Capturing a stack costs
 * microseconds, so it is done only for attempts that may be refused (always when the policy is not known
 * here: preloaded from the environment).
 */
export function mayBeRefused(host: unknown, port?: unknown): boolean {
    return mayRefuse(host, port, currentFrame());
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
    return lookupRefusal(name, frame, withGlobal);
}

/** A lookup the scopes the caller is in do not allow (numeric names and this machine's name are no lookups: the native side exempts them). */
export function scopeRefusal(name: string, frame: ScopeFrame | null, op: EgressOp, stack: string | undefined): EgressEvent | null {
    if (!frame || typeof name !== 'string') return null;
    const r = firstRefusal(name, frame, false);
    return r && lookupEvent(r.x, name, op, logOnly() ? 'would-block' : 'block', r.by?.label ?? labelOf(frame), stack);
}
