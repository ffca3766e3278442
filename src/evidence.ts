/**
 * The evidence only JavaScript has for an attempt the shim judged: the caller's stack and the URL it asked
 * for. Wrappers capture it at the call (src/wrap/) and file it by the shim's event number; it is merged into
 * the event wherever the event surfaces (onBlocked, noEgress, EgressBlocked).
 */
import { appendFileSync } from 'node:fs';
import type { EgressEvent } from './errors.js';
import { perThread } from './shared.js';

/** Where a socket keeps the stack of the call that connected it, and the URL of its request. */
export const kCallSite = Symbol('tethered.callSite');
export const kUrl = Symbol('tethered.url');

export interface CallSite {
    stack?: string;
}

/** "    at f (file:1:2)" lines of a captured call site, without the "Error" header. */
export function frames(site: CallSite | undefined): string | undefined {
    const stack = site?.stack;
    if (!stack) return undefined;
    const at = stack.indexOf('\n');
    return at >= 0 ? stack.slice(at + 1) : undefined;
}

/** The caller's stack, deep enough to get through Node's own layers (http, net) to the caller's code. */
export function callSite(skip: (...args: never[]) => unknown): CallSite {
    const site: CallSite = {};
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 32;
    Error.captureStackTrace(site, skip);
    Error.stackTraceLimit = limit;
    return site;
}

// Evidence by the shim's event number. Bounded: the oldest entries go first.
const EVIDENCE_LIMIT = 1024;
const evidence = perThread('evidence', () => new Map<number, { stack?: string; url?: string }>());

// Under `tethered run` (run-register.ts), evidence also goes to the run's log file, as a line of its own that
// the CLI joins to the shim's event by process and event number (cli/events.ts): the shim writes the event
// before JavaScript knows anything about it.
let evidenceLog: string | null = null;

/** Appends evidence lines to this log file from now on (an absolute path, as TETHERED_LOG gives it). */
export function logEvidenceTo(path: string): void {
    evidenceLog = path;
}

function writeEvidence(seq: number, known: { stack?: string; url?: string }): void {
    if (!evidenceLog) return;
    try {
        appendFileSync(evidenceLog, `${JSON.stringify({ evidence: true, pid: process.pid, seq, ...known })}\n`);
    } catch {
        evidenceLog = null; // the run is over or the file is gone: the event itself is in the log already
    }
}

/** Adds what is not known yet (with `replace`, what the caller knows better: fetch's caller's stack). */
export function addEvidence(seq: number | undefined, extra: { stack?: string | undefined; url?: string | undefined }, replace = false): void {
    if (seq === undefined) return;
    const known = evidence.get(seq) ?? {};
    if (extra.stack !== undefined && (replace || known.stack === undefined)) known.stack = extra.stack;
    if (extra.url !== undefined && (replace || known.url === undefined)) known.url = extra.url;
    evidence.set(seq, known);
    writeEvidence(seq, known);
    if (evidence.size > EVIDENCE_LIMIT) evidence.delete(evidence.keys().next().value as number);
}

/** The event with the evidence JavaScript has for it. */
export function withEvidence(event: EgressEvent): EgressEvent {
    const extra = event.seq !== undefined ? evidence.get(event.seq) : undefined;
    return extra ? { ...event, ...extra } : event;
}
