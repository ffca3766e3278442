/**
 * scope() and noEgress(): narrowing the policy for an async call tree. The scope a piece of code runs in is
 * kept in AsyncLocalStorage, and nowhere else: when a hook of the shim judges an attempt on this thread
 * (net, dgram, c-ares, a native addon's connect()), it asks this thread's JavaScript which scope is current
 * (the addon's scopeSource), so that native calls are judged by it too while tethered adds nothing to any
 * callback (docs/api.md, Scopes, for what AsyncLocalStorage itself costs). Lookups that Node sends to the libuv pool are checked against the scope in JavaScript before they go
 * (wrap/dns.ts). Scopes work with or without activate(): without it, only the scopes narrow.
 */
import { EgressViolation, type EgressEvent } from './errors.js';
import { installErrorMapping } from './js-errors.js';
import { AllowPolicy, normalRules } from './policy/index.js';
import { checkKnownKeys } from './options.js';
import { eventFromLine } from './event.js';
import { wordSpeaking } from './wrap/scope-word.js';
import { collectorOf, currentFrame, isPatched, patchProcess, runtime, scopes, scopesMade, type ScopeFrame } from './runtime.js';

export interface ScopeOptions {
    readonly allow: readonly string[];
    readonly deny?: readonly string[] | undefined;
    /** Names the scope in events and errors. */
    readonly label?: string | undefined;
    /** Default true. */
    readonly allowLocalhost?: boolean | undefined;
}

export interface NoEgressOptions {
    /** Default: nothing (localhost aside). */
    readonly allow?: readonly string[] | undefined;
    readonly deny?: readonly string[] | undefined;
    readonly label?: string | undefined;
    /** Default true. */
    readonly allowLocalhost?: boolean | undefined;
}

const KNOWN_KEYS = ['allow', 'deny', 'label', 'allowLocalhost'];

function checkOptions(what: string, options: NoEgressOptions, fn: unknown, needAllow: boolean): void {
    if (typeof options !== 'object' || options === null) throw new TypeError(`${what}() takes an options object and a function`);
    checkKnownKeys(`${what}()`, options, KNOWN_KEYS);
    if (needAllow ? !Array.isArray(options.allow) : options.allow !== undefined && !Array.isArray(options.allow)) {
        throw new TypeError(`${what}(): allow must be an array of rules`);
    }
    if (options.deny !== undefined && !Array.isArray(options.deny)) throw new TypeError(`${what}(): deny must be an array of rules`);
    if (options.label !== undefined && typeof options.label !== 'string') throw new TypeError(`${what}(): label must be a string`);
    if (options.allowLocalhost !== undefined && typeof options.allowLocalhost !== 'boolean') throw new TypeError(`${what}(): allowLocalhost must be a boolean`);
    if (typeof fn !== 'function') throw new TypeError(`${what}(): the second argument must be a function`);
}

/** A new compiled scope inside `parent` (the scope the caller is in). runtime() registers the thread's
 * scope source with the shim (once per thread and copy of the package), before any frame can be entered. */
function frameFor(options: NoEgressOptions, collecting: boolean, parent: ScopeFrame | null): ScopeFrame {
    const policy = new AllowPolicy(options.allow ?? [], { deny: options.deny, allowLocalhost: options.allowLocalhost });
    const { addon } = runtime();
    scopesMade.any = true;
    installErrorMapping();
    if (!isPatched()) patchProcess();
    const label = options.label ?? null;
    const native = addon.scopeNew(
        normalRules(policy),
        label ?? '',
        parent?.native ?? null,
        collecting,
    );
    return Object.freeze({ policy, label, parent, native, id: addon.scopeId(native), collecting, events: [] });
}

/**
 * Runs `fn` with the policy narrowed to `options` (on top of the policy in force and any enclosing scope:
 * a scope never widens), for everything `fn` starts on this thread: callbacks, promises, timers, native
 * calls. Returns what `fn` returns. Throws InvalidRuleError for a bad rule.
 */
export function scope<T>(options: ScopeOptions, fn: () => T): T {
    const enclosing = currentFrame();
    // The options object entered before, unchanged, under the same enclosing scope (a request handler
    // passing the same object each time): its frame, without checking again what was checked then.
    const last = typeof options === 'object' && options !== null ? lastByOptions.get(options) : undefined;
    if (last !== undefined && typeof fn === 'function' && unchanged(last, options, enclosing)) return enter(last.frame, fn);
    checkOptions('scope', options, fn, true);
    return enter(lastFrame(options, enclosing), fn);
}

/** Runs `fn` in `frame`; inside a wrapped handle call (src/wrap/scope-word.ts) with the word silenced meanwhile. */
function enter<T>(frame: ScopeFrame, fn: () => T): T {
    const word = wordSpeaking();
    if (word === null) return scopes.run(frame, fn);
    const said = word[0] as number;
    word[0] = 0;
    try {
        return scopes.run(frame, fn);
    } finally {
        word[0] = said;
    }
}

// The frame an options object was last entered with, by the object (a request handler passes the same
// one each time): found again by comparing its fields with a copy taken then, element by element, which
// is cheaper than the cache key below. A field changed since, or another enclosing scope, misses.
interface Last {
    readonly parent: number;
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    readonly label: string | undefined;
    readonly allowLocalhost: boolean | undefined;
    readonly frame: ScopeFrame;
}
const lastByOptions = new WeakMap<object, Last>();
const NO_RULES: readonly string[] = Object.freeze([]);

function sameList(a: readonly string[], b: readonly string[]): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
}

/**
 * Has nothing of `options` that scope() reads changed since `last` was taken? Its keys are not listed again:
 * enumerating them costs about 2 us on a request's cold caches (a point of a loopback request on Node 24),
 * so a key added to an options object after its first scope() is not reported as unknown; every new
 * object, and every change to what scope() reads, is checked in full.
 */
function unchanged(last: Last, options: ScopeOptions, enclosing: ScopeFrame | null): boolean {
    if (last.parent !== (enclosing?.id ?? 0) || last.label !== options.label || last.allowLocalhost !== options.allowLocalhost) return false;
    if (!Array.isArray(options.allow) || (options.deny !== undefined && !Array.isArray(options.deny))) return false;
    return sameList(last.allow, options.allow) && sameList(last.deny, options.deny ?? NO_RULES);
}

/** The frame of an options object checkOptions() accepted, remembered for it. */
function lastFrame(options: ScopeOptions, enclosing: ScopeFrame | null): ScopeFrame {
    // compiled from the very copy the next call compares with (a getter cannot make the two differ)
    const copy = { allow: [...options.allow], deny: [...(options.deny ?? NO_RULES)], label: options.label, allowLocalhost: options.allowLocalhost };
    const frame = cachedFrame(copy, enclosing);
    lastByOptions.set(options, { ...copy, parent: enclosing?.id ?? 0, frame });
    return frame;
}

// Compiled scope() frames by enclosing scope and options: a scope entered again (per request, per job)
// is not compiled again. Bounded; the oldest entry goes first.
const CACHE_LIMIT = 256;
const frames = new Map<string, ScopeFrame>();

function cachedFrame(options: ScopeOptions, parent: ScopeFrame | null): ScopeFrame {
    const key = `${parent?.id ?? 0}:${JSON.stringify([options.allow, options.deny ?? [], options.label ?? null, options.allowLocalhost ?? true])}`;
    const known = frames.get(key);
    if (known) return known;
    const frame = frameFor(options, false, parent);
    frames.set(key, frame);
    if (frames.size > CACHE_LIMIT) frames.delete(frames.keys().next().value as string);
    return frame;
}

function byTime(a: EgressEvent, b: EgressEvent): number {
    return a.time < b.time ? -1 : a.time > b.time ? 1 : (a.seq ?? 0) - (b.seq ?? 0);
}

/** In the order they were made: by the process's one event sequence when every event has its number. */
function inOrder(events: EgressEvent[]): EgressEvent[] {
    return events.every((e) => e.seq !== undefined) ? events.sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0)) : events.sort(byTime);
}

/**
 * Runs `fn` under the rules (default: no egress at all but localhost) and, once it settles, rejects with
 * EgressViolation listing every attempt made inside it that was blocked — including those `fn` caught
 * and swallowed. Resolves with `fn`'s value when there were none.
 */
export async function noEgress<T>(options: NoEgressOptions, fn: () => T | Promise<T>): Promise<T> {
    checkOptions('noEgress', options, fn, false);
    const frame = frameFor(options, true, currentFrame());
    const { addon } = runtime();
    addon.collect(frame.native);
    let value: T | undefined;
    let failure: unknown;
    let failed = false;
    try {
        value = await enter(frame, fn);
    } catch (err) {
        failed = true;
        failure = err;
    }
    const events = inOrder([...addon.takeCollected(frame.native).map(eventFromLine), ...frame.events].filter((e) => e.decision !== 'allow'));
    // An enclosing noEgress() sees these too, even if the violation below is caught.
    collectorOf(frame.parent)?.events.push(...events);
    if (events.length > 0) throw new EgressViolation(events, frame.label, failed ? { cause: failure } : undefined);
    if (failed) throw failure;
    return value as T;
}
