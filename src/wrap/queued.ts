/**
 * Work Node queues and does later, from another object's callback, runs in the scope it was asked in. A
 * scope follows the async call tree, and a queued job is done in the tree of whatever frees the queue: an
 * http.Agent's pending request gets its socket when another request's socket is freed or closed, a dgram
 * socket's sends and connect made before its bind finished are done on 'listening'. Without this, a request
 * made inside noEgress() and queued so would connect, or be written, outside it; and one made outside every
 * scope, queued behind one made inside, would be judged by that scope.
 */
import { currentFrame, scopes, scopesMade, type ScopeFrame } from '../runtime.js';

/** Asked outside every scope: the job runs outside every scope too. */
export const NO_FRAME = Symbol('tethered.noScope');
export type Asked = ScopeFrame | typeof NO_FRAME;

/** The frame the caller is in now, or NO_FRAME (nothing is read while no scope was ever made). */
export function frameNow(): Asked {
    return (scopesMade.any ? currentFrame() : null) ?? NO_FRAME;
}

/** Runs `job` in the scope it was asked in (undefined: not known, where it is). */
export function inFrame<T>(asked: Asked | undefined, job: () => T): T {
    if (asked === undefined || !scopesMade.any) return job();
    const now = currentFrame();
    if (asked === NO_FRAME) return now === null ? job() : scopes.exit(job);
    return now === asked ? job() : scopes.run(asked, job);
}
