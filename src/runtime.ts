/**
 * What activate(), scope() and the JavaScript error layer share: the loaded shim, the handler for events,
 * the evidence JavaScript adds to events (stack, URL), and the scope the code is running in.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { nativeBinaries, type Addon, type NativeScope } from './native.js';
import type { EgressEvent } from './errors.js';
import type { AllowPolicy } from './policy/index.js';

/** One scope() or noEgress() the code runs in, with the ones around it. */
export interface ScopeFrame {
    readonly policy: AllowPolicy;
    readonly label: string | null;
    readonly parent: ScopeFrame | null;
    readonly native: NativeScope;
    /** Where the shim finds it (what scope.ts stores into this thread's scope slot). */
    readonly address: bigint;
    readonly id: number;
    /** noEgress(): keeps the events of attempts made inside it. */
    readonly collecting: boolean;
    /** Events that did not come through the shim's sink (lookups judged here, nested noEgress results). */
    readonly events: EgressEvent[];
}

export const scopes = new AsyncLocalStorage<ScopeFrame>();

/** The policy activate() put in force, and how; null when not activated (scopes may still narrow). */
export interface GlobalState {
    readonly policy: AllowPolicy;
    readonly logOnly: boolean;
    readonly onBlocked: ((event: EgressEvent) => void) | null;
}

let global: GlobalState | null = null;

export function setGlobal(state: GlobalState | null): void {
    global = state;
}

/** The settings worker threads' JavaScript needs to explain blocks (see worker-init.ts). */
export interface SharedSettings {
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    readonly allowLocalhost: boolean;
    readonly logOnly: boolean;
}

export function globalState(): GlobalState | null {
    return global;
}

/** Would the policy in force let a blocked attempt through (and report it)? */
export function logOnly(): boolean {
    return global ? global.logOnly : process.env.TETHERED_MODE === 'log' && (process.env.LD_PRELOAD ?? '').includes('libtethered');
}

// Evidence only JavaScript has, by the shim's event number, merged into the event wherever it surfaces
// (onBlocked, noEgress, EgressBlocked). Bounded: the oldest entries go first.
const EVIDENCE_LIMIT = 1024;
const evidence = new Map<number, { stack?: string; url?: string }>();

/** Adds what is not known yet (with `replace`, what the caller knows better: fetch's caller's stack). */
export function addEvidence(seq: number | undefined, extra: { stack?: string | undefined; url?: string | undefined }, replace = false): void {
    if (seq === undefined) return;
    const known = evidence.get(seq) ?? {};
    if (extra.stack !== undefined && (replace || known.stack === undefined)) known.stack = extra.stack;
    if (extra.url !== undefined && (replace || known.url === undefined)) known.url = extra.url;
    evidence.set(seq, known);
    if (evidence.size > EVIDENCE_LIMIT) evidence.delete(evidence.keys().next().value as number);
}

/** The event with the evidence JavaScript has for it. */
export function withEvidence(event: EgressEvent): EgressEvent {
    const extra = event.seq !== undefined ? evidence.get(event.seq) : undefined;
    return extra ? { ...event, ...extra } : event;
}

export function eventFromLine(line: string): EgressEvent {
    return withEvidence(JSON.parse(line) as EgressEvent);
}

/** The innermost noEgress() scope of a chain, or null. */
export function collectorOf(frame: ScopeFrame | null): ScopeFrame | null {
    for (let f = frame; f; f = f.parent) if (f.collecting) return f;
    return null;
}

/** Hands an event made on the JavaScript side to the innermost noEgress scope and (notify) onBlocked. */
export function report(event: EgressEvent, frame: ScopeFrame | null, options: { notify: boolean }): void {
    collectorOf(frame)?.events.push(event);
    if (options.notify && event.decision !== 'allow') global?.onBlocked?.(event);
}

function dispatch(line: string): void {
    const handler = global?.onBlocked;
    if (!handler) return;
    const event = eventFromLine(line);
    if (event.decision !== 'allow') handler(event);
}

interface Runtime {
    readonly addon: Addon;
    readonly shimPath: string;
    readonly preloaded: boolean;
}

let loaded: Runtime | null = null;
let patched = -1;

/** Loads the shim (or finds it preloaded) and starts the event stream; once per process. */
export function runtime(): Runtime {
    if (loaded) return loaded;
    const { addon, shimPath } = nativeBinaries();
    const { preloaded } = addon.load(shimPath);
    addon.onEvents(dispatch);
    loaded = { addon, shimPath, preloaded };
    return loaded;
}

/** Points every loaded object at the hooks (not needed when preloaded); returns the slots patched. */
export function patchProcess(): number {
    const { addon, preloaded } = runtime();
    if (preloaded) return 0;
    patched = addon.patch();
    return patched;
}

/** Patched at least once already (the dlopen hook covers objects loaded since). */
export function isPatched(): boolean {
    return patched >= 0 || runtime().preloaded;
}
