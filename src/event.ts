/**
 * The one factory of EgressEvent: events the shim makes in C (a JSON line: native/shim/events.c writes the
 * same fields in the same order) and events JavaScript makes (a lookup a scope refused before it reached the
 * pool, a refused lookup explained) both go through egressEvent(), so that their shapes cannot drift apart.
 */
import type { EgressEvent, EgressOp } from './errors.js';
import type { Explanation } from './policy/index.js';
import { withEvidence } from './evidence.js';
import { nextEventSeq } from './native.js';

/** What every event says of the attempt. */
type Said = 'decision' | 'op' | 'protocol' | 'host' | 'ip' | 'port' | 'rule' | 'reason' | 'scopeLabel';
/** What an event may say besides; time, pid, tid and exe default to this process's now. */
type Optional = 'time' | 'pid' | 'tid' | 'exe' | 'seq' | 'url' | 'stack' | 'nativeStack' | 'layer' | 'program' | 'unchecked';

/** An event's fields, as EgressEvent types them (one definition: the two cannot drift apart). */
export type EventFields = Pick<EgressEvent, Said> & { readonly [K in Optional]?: EgressEvent[K] | undefined } & {
    /** The shim's reason when the check itself failed (reason 'internal-error'). */
    readonly error?: string | undefined;
};

/** An event from its fields: the same keys, in the same order, wherever it was made. */
export function egressEvent(f: EventFields): EgressEvent {
    return {
        time: f.time ?? new Date().toISOString(),
        pid: f.pid ?? process.pid,
        // JavaScript's events are made on the thread that asked (its id is not known here: the process's)
        tid: f.tid ?? process.pid,
        ...(f.seq !== undefined ? { seq: f.seq } : {}),
        decision: f.decision,
        op: f.op,
        protocol: f.protocol,
        host: f.host,
        ip: f.ip,
        port: f.port,
        rule: f.rule,
        reason: f.reason,
        scopeLabel: f.scopeLabel,
        exe: f.exe ?? process.execPath,
        ...(f.error !== undefined ? { error: f.error } : {}),
        ...(f.layer !== undefined ? { layer: f.layer } : {}),
        ...(f.program !== undefined ? { program: f.program } : {}),
        ...(f.unchecked !== undefined ? { unchecked: f.unchecked } : {}),
        ...(f.nativeStack !== undefined ? { nativeStack: f.nativeStack } : {}),
        ...(f.url !== undefined ? { url: f.url } : {}),
        ...(f.stack !== undefined ? { stack: f.stack } : {}),
    };
}

/** An event line of the shim, with the evidence JavaScript has for it. */
export function eventFromLine(line: string): EgressEvent {
    return withEvidence(egressEvent(JSON.parse(line) as EventFields));
}

/** A name lookup refused by the TypeScript engine's explanation `x` (a scope's, or the policy in force's). */
export function lookupEvent(x: Explanation, name: string, op: EgressOp, decision: 'block' | 'would-block', scopeLabel: string | null, stack: string | undefined): EgressEvent {
    return egressEvent({
        decision,
        op,
        protocol: 'dns',
        host: x.host ?? name,
        ip: null,
        port: null,
        rule: x.reason === 'deny-rule' ? x.rule : x.suggestion,
        reason: x.reason,
        scopeLabel,
        stack,
        seq: nextEventSeq(),
    });
}
