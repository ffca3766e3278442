/**
 * The EgressBlocked a caller gets for an attempt the shim refused on this thread (a connect or a send that
 * failed with EACCES): the shim's event with the evidence JavaScript has, and the same fields again for a
 * copy of the error that lost them on its way between realms.
 */
import { EgressBlocked, type EgressEvent } from './errors.js';
import { eventFromLine } from './event.js';
import { addEvidence, withEvidence } from './evidence.js';
import { runtime } from './runtime.js';
import { perThread } from './shared.js';

export type SocketError = NodeJS.ErrnoException & { address?: string; port?: number };

/** The shim's last event on this thread, if it is the block this error reports. */
function lastBlock(err: SocketError): EgressEvent | null {
    const line = runtime().addon.takeLastEvent();
    if (!line) return null;
    const event = eventFromLine(line);
    if (event.decision !== 'block') return null;
    if (err.port !== undefined && event.port !== err.port) return null;
    return event;
}

/** `err` as an EgressBlocked for the shim's event on this thread, with the evidence; `err` when there is none. */
export function blockedFrom(err: SocketError, evidence: { stack?: string | undefined; url?: string | undefined }): Error {
    const event = lastBlock(err);
    if (!event) return err;
    addEvidence(event.seq, evidence);
    const blocked = new EgressBlocked(withEvidence(event), { cause: err });
    recent.push(blocked);
    if (recent.length > 16) recent.shift();
    return blocked;
}

// The last EgressBlocked errors made on this thread: a runner that copies errors between realms (Vitest's
// vmThreads wraps fetch so) keeps only name and message; the fields are found again by the message.
const recent = perThread('recent-blocks', () => [] as EgressBlocked[]);

/** Gives a copy of an EgressBlocked that lost its fields (`name: message`, nothing else) those fields back. */
export function restoreFields(err: unknown): void {
    const seen = new Set<unknown>();
    for (let e = err; e !== null && typeof e === 'object' && !seen.has(e); e = (e as { cause?: unknown }).cause) {
        seen.add(e);
        const copy = e as { code?: unknown; message?: unknown };
        if (copy.code !== undefined || typeof copy.message !== 'string') continue;
        const original = recent.find((b) => copy.message === b.message || copy.message === `${b.name}: ${b.message}`);
        if (!original) continue;
        for (const key of ['code', 'host', 'ip', 'port', 'protocol', 'rule', 'scopeLabel', 'event'] as const) {
            Object.defineProperty(e, key, { value: original[key], writable: true, configurable: true, enumerable: false });
        }
    }
}
