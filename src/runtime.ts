/**
 * What activate(), scope() and the JavaScript error layer share: the loaded shim, the handler for events,
 * and the scope the code is running in (the evidence JavaScript adds to events is in evidence.ts).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ENV } from './env-names.js';
import { nativeBinaries, type Addon, type NativeScope } from './native.js';
import type { EgressEvent } from './errors.js';
import { eventFromLine } from './event.js';
import { AllowPolicy } from './policy/index.js';
import { perThread } from './shared.js';

/** One scope() or noEgress() the code runs in, with the ones around it. */
export interface ScopeFrame {
    readonly policy: AllowPolicy;
    readonly label: string | null;
    readonly parent: ScopeFrame | null;
    /** What the shim judges by (scope.ts hands it to the shim when asked). */
    readonly native: NativeScope;
    readonly id: number;
    /** noEgress(): keeps the events of attempts made inside it. */
    readonly collecting: boolean;
    /** Events that did not come through the shim's sink (lookups judged here, nested noEgress results). */
    readonly events: EgressEvent[];
}

/** The scope registry: one per thread, whichever copy of the package made the scope. */
export const scopes = perThread('scopes', () => new AsyncLocalStorage<ScopeFrame>());

/** Has any copy of the package made a scope on this thread? Until then no code here can be in one. */
export const scopesMade = perThread('scopesMade', () => ({ any: false }));

/**
 * How the policy activate() put in force behaves; null when not activated (scopes may still narrow). The
 * rules themselves are judged by the native matcher (decide.ts), so no TypeScript copy is compiled here.
 */
export interface GlobalState {
    readonly logOnly: boolean;
    readonly onBlocked: ((event: EgressEvent) => void) | null;
}

/**
 * What activate() tells the addon of the policy it put in force, kept there with it (native memory, one per
 * process): every copy of the JavaScript, every realm and every worker reads the policy in force from it.
 */
export interface Described {
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    readonly allowLocalhost: boolean;
    readonly logOnly: boolean;
    readonly failClosed: boolean;
    readonly children: 'inherit' | 'none' | 'strict';
    readonly patchedSlots: number;
    /** process.env entries as they were before the first activate() changed them */
    readonly savedEnv: Readonly<Record<string, string | undefined>>;
}

/** The onBlocked of this thread's last activate(), good only while the policy it came with is in force. */
const handler = perThread('handler', () => ({ generation: -1, onBlocked: null as ((event: EgressEvent) => void) | null }));

export function setHandler(generation: number, onBlocked: ((event: EgressEvent) => void) | null): void {
    handler.generation = generation;
    handler.onBlocked = onBlocked;
}

let seen: { generation: number; described: Described | null; state: GlobalState | null } = { generation: -1, described: null, state: null };

function refresh(): void {
    const { addon } = runtime();
    const generation = addon.generation();
    if (generation === seen.generation) return;
    const json = addon.status().description;
    const described = json ? (JSON.parse(json) as Described) : null;
    seen = { generation, described, state: described ? { logOnly: described.logOnly, onBlocked: null } : null };
}

/** The description of the policy activate() put in force (from any copy, any thread), or null. */
export function described(): Described | null {
    if (!loaded) return null;
    refresh();
    return seen.described;
}

/** The settings worker threads' JavaScript needs to explain blocks (see worker-init.ts). */
export interface SharedSettings {
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    readonly allowLocalhost: boolean;
    readonly logOnly: boolean;
}

export function globalState(): GlobalState | null {
    if (!loaded) return null;
    refresh();
    const state = seen.state;
    if (!state) return null;
    return handler.generation === seen.generation && handler.onBlocked ? { ...state, onBlocked: handler.onBlocked } : state;
}

/** Would the policy in force let a blocked attempt through (and report it)? */
export function logOnly(): boolean {
    const state = globalState();
    return state ? state.logOnly : process.env[ENV.MODE] === 'log' && (process.env.LD_PRELOAD ?? '').includes('libtethered');
}

/** The innermost noEgress() scope of a chain, or null. */
export function collectorOf(frame: ScopeFrame | null): ScopeFrame | null {
    for (let f = frame; f; f = f.parent) if (f.collecting) return f;
    return null;
}

/** Hands an event made on the JavaScript side to the innermost noEgress scope and (notify) onBlocked. */
export function report(event: EgressEvent, frame: ScopeFrame | null, options: { notify: boolean }): void {
    collectorOf(frame)?.events.push(event);
    if (options.notify && event.decision !== 'allow') globalState()?.onBlocked?.(event);
}

/** Where the shim's event lines go (activate() makes it the process's handler: see the addon's configure). */
export function dispatch(line: string): void {
    const onBlocked = globalState()?.onBlocked;
    if (!onBlocked) return;
    const event = eventFromLine(line);
    // A program started that the libc layer cannot follow is let through but never silent.
    if (event.decision !== 'allow' || event.reason === 'unchecked-exec') onBlocked(event);
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
    // The first source a thread registers is the one the shim asks (the addon keeps it): registered as soon
    // as the package is loaded, so that nothing registered later can answer "no scope" for code inside one.
    addon.scopeSource(currentNativeScope);
    loaded = { addon, shimPath, preloaded };
    return loaded;
}

// The shim asks this function which scope the JavaScript running on this thread is in, when one of its
// hooks judges an attempt here (and only when some scope exists). Taken now, not when asked: a later change
// to AsyncLocalStorage's prototype does not take code out of its scope.
const getStore: (this: AsyncLocalStorage<ScopeFrame>) => ScopeFrame | undefined = Reflect.get(AsyncLocalStorage.prototype, 'getStore') as never;
const apply = Reflect.apply;
/** The scope the code runs in (null: none), read with the getStore taken at load, whatever replaced it since. */
export const currentFrame = (): ScopeFrame | null => apply(getStore, scopes, []) ?? null;
export const currentNativeScope = (): NativeScope | null => currentFrame()?.native ?? null;

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
