/**
 * Work Node queues and does later, from another object's callback, runs in the scope it was asked for. A
 * scope follows the async call tree, and a queued job is done in the tree of whatever frees the queue: an
 * http.Agent's pending request gets its socket when another request's socket is freed or closed, a dgram
 * socket's sends and connect made before its bind finished are done on 'listening'. Without this, a request
 * made inside noEgress() and queued so would connect, or be written, outside it.
 */
import { currentFrame, scopes, scopesMade, type ScopeFrame } from '../runtime.js';

/** The scope frame the caller is in now, or null (and nothing read while no scope was ever made). */
export function frameNow(): ScopeFrame | null {
    return scopesMade.any ? currentFrame() : null;
}

/** Runs `job` in `frame` when that is not already the current one. */
export function inFrame<T>(frame: ScopeFrame | null | undefined, job: () => T): T {
    if (!frame || currentFrame() === frame) return job();
    return scopes.run(frame, job);
}
