/**
 * Turning the C layer's answers into errors JavaScript callers can act on (docs/rules.md, What a block
 * looks like), and adding the evidence only JavaScript has (the caller's stack, the URL). The shim does
 * the blocking; these wrappers only add what it cannot:
 *
 *  - net.Socket#connect records the caller's stack; http.Agent#createSocket the request's URL.
 *  - net.Socket#destroy: a connect that failed with EACCES (net, tls, http, https, http2, fetch and ws all
 *    connect through net.Socket) becomes an EgressBlocked for the event the shim just made on this thread.
 *  - dgram send and connect: the same, for the callback or the 'error' event.
 *  - dns.lookup and dns.promises.lookup run getaddrinfo on the libuv pool, where no scope is known: the
 *    scopes the caller is in are checked here, before the lookup is sent to the pool; a lookup the policy
 *    in force refused (EAI_FAIL) is explained by the native policy (decide.ts).
 *  - dns.resolve* and dns.Resolver (c-ares sends its own queries on this thread; the shim judges each by
 *    its name): the failure of a refused query becomes an EgressBlocked.
 *  - fetch: the URL of a request refused while connecting.
 *  - worker_threads.Worker: workers started once tethered is at work load worker-init.js first, so that
 *    their callers get the same errors (the shim judges their attempts either way).
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import http from 'node:http';
import net from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import workerThreads from 'node:worker_threads';
import { EgressBlocked, isEgressBlocked, type EgressEvent, type EgressOp } from './errors.js';
import { lookupRefusal, mayRefuse } from './decide.js';
import { normaliseDestination, type Explanation } from './policy/index.js';
import { perThread } from './shared.js';
import { addEvidence, eventFromLine, logOnly, report, runtime, scopes, withEvidence, type ScopeFrame } from './runtime.js';

// Once per thread, however many copies of the package load (see shared.ts): the first copy's wrappers
// serve them all (they read the policy from the addon and the scopes from the thread's one registry), so
// wrappers never stack. `loaded`: tethered is at work (activated, or a scope made) in some copy.
const wrappers = perThread('wrappers', () => ({ installed: false, loaded: false, workers: false }));
const kCallSite = Symbol('tethered.callSite');
const kUrl = Symbol('tethered.url');

type Evidenced = net.Socket & { [kCallSite]?: { stack?: string }; [kUrl]?: string };
type SocketError = NodeJS.ErrnoException & { address?: string; port?: number };

/** "    at f (file:1:2)" lines of a captured call site, without the "Error" header. */
function frames(site: { stack?: string } | undefined): string | undefined {
    const stack = site?.stack;
    if (!stack) return undefined;
    const at = stack.indexOf('\n');
    return at >= 0 ? stack.slice(at + 1) : undefined;
}

/** The caller's stack, deep enough to get through Node's own layers (http, net) to the caller's code. */
function callSite(skip: (...args: never[]) => unknown): { stack?: string } {
    const site: { stack?: string } = {};
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 32;
    Error.captureStackTrace(site, skip);
    Error.stackTraceLimit = limit;
    return site;
}

/** Could the policy in force or a scope the caller is in refuse this destination? (asks the native policy) */
function mayBlock(host: unknown, port?: unknown): boolean {
    return mayRefuse(host, port, scopes.getStore() ?? null);
}

/** Where net.Socket#connect is going, from its many argument forms (null: a Unix socket or unknown). */
function connectTarget(args: unknown[]): { host: unknown; port: unknown } | null {
    const first: unknown = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    if (first !== null && typeof first === 'object') {
        const o = first as { host?: unknown; port?: unknown; path?: unknown };
        if (o.path) return null; // a Unix socket (net treats any truthy path so)
        return { host: o.host ?? 'localhost', port: o.port };
    }
    if (typeof first === 'number' || (typeof first === 'string' && /^\d+$/.test(first))) {
        return { host: typeof args[1] === 'string' ? args[1] : 'localhost', port: first };
    }
    return null;
}

/** The shim's last event on this thread, if it is the block this error reports. */
function lastBlock(err: SocketError): EgressEvent | null {
    const line = runtime().addon.takeLastEvent();
    if (!line) return null;
    const event = eventFromLine(line);
    if (event.decision !== 'block') return null;
    if (err.port !== undefined && event.port !== err.port) return null;
    return event;
}

function blockedFrom(err: SocketError, evidence: { stack?: string | undefined; url?: string | undefined }): Error {
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
function restoreFields(err: unknown): void {
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

function lookupEvent(x: Explanation, name: string, op: EgressOp, decision: 'block' | 'would-block', scopeLabel: string | null, stack: string | undefined): EgressEvent {
    return {
        time: new Date().toISOString(),
        pid: process.pid,
        tid: process.pid,
        decision,
        op,
        protocol: 'dns',
        host: x.host ?? name,
        ip: null,
        port: null,
        rule: x.reason === 'deny-rule' ? x.rule : x.suggestion,
        reason: x.reason,
        scopeLabel,
        exe: process.execPath,
        ...(stack !== undefined ? { stack } : {}),
    };
}

function labelOf(frame: ScopeFrame | null): string | null {
    for (let f = frame; f; f = f.parent) if (f.label) return f.label;
    return null;
}

/**
 * The first of the policy in force (when `withGlobal`) and the scopes of `frame` that refuses a lookup of
 * `name`: its explanation, and the scope it belongs to (null: the policy in force).
 */
function refuser(name: string, frame: ScopeFrame | null, withGlobal: boolean): { x: Explanation; by: ScopeFrame | null } | null {
    return lookupRefusal(name, frame, withGlobal);
}

/** A lookup the scopes the caller is in do not allow (numeric names and this machine's name are no lookups). */
function scopeRefusal(name: string, frame: ScopeFrame | null, op: EgressOp, stack: string | undefined): EgressEvent | null {
    if (!frame || typeof name !== 'string') return null;
    const r = refuser(name, frame, false); // null for numeric names and this machine's name (no lookups)
    return r && lookupEvent(r.x, name, op, logOnly() ? 'would-block' : 'block', r.by?.label ?? labelOf(frame), stack);
}

/** A lookup the policy in force refused (the shim's event is on a pool thread): explain it here. */
function refusedLookup(err: NodeJS.ErrnoException | null, name: string, op: EgressOp, frame: ScopeFrame | null, stack: string | undefined): NodeJS.ErrnoException | null {
    if (!err || err.code !== 'EAI_FAIL') return err;
    const r = refuser(name, null, true);
    if (!r) return err;
    const event = lookupEvent(r.x, name, op, 'block', labelOf(frame), stack);
    report(event, frame, { notify: false }); // onBlocked has the shim's event already
    return new EgressBlocked(event, { cause: err });
}

type Method = (this: unknown, ...args: unknown[]) => unknown;

/** A method of a prototype, to wrap. */
function methodOf(proto: object, name: string): Method {
    const fn: unknown = Reflect.get(proto, name);
    if (typeof fn !== 'function') throw new Error(`tethered: cannot wrap ${name}, it is not a function in this Node.js`);
    return fn as Method;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void;

function wrapSockets(): void {
    const proto = net.Socket.prototype;
    const connect = methodOf(proto, 'connect');
    const wrappedConnect = function (this: Evidenced, ...args: unknown[]): unknown {
        if (wrappers.loaded) {
            const target = connectTarget(args);
            if (target && mayBlock(target.host, target.port)) this[kCallSite] = callSite(wrappedConnect);
        }
        return connect.apply(this, args);
    };
    Reflect.set(proto, 'connect', wrappedConnect);

    const destroy = methodOf(proto, 'destroy');
    Reflect.set(proto, 'destroy', function (this: Evidenced, error?: unknown): unknown {
        const e = error as SocketError | undefined;
        if (wrappers.loaded && e?.code === 'EACCES' && e.syscall === 'connect') {
            return destroy.call(this, blockedFrom(e, { stack: frames(this[kCallSite]), url: this[kUrl] }));
        }
        return destroy.call(this, error);
    });

    // The URL of each HTTP(S) request that needs a new connection (https.Agent inherits this).
    const createSocket = methodOf(http.Agent.prototype, 'createSocket');
    {
        Reflect.set(http.Agent.prototype, 'createSocket', function (this: unknown, req: unknown, options: unknown, cb: unknown): unknown {
            const r = req as { protocol?: string; host?: string; path?: string };
            const o = options as { port?: number | string; defaultPort?: number };
            const port = o.port !== undefined && Number(o.port) !== (r.protocol === 'https:' ? 443 : 80) ? `:${o.port}` : '';
            const url = r.protocol && r.host ? `${r.protocol}//${r.host.includes(':') ? `[${r.host}]` : r.host}${port}${r.path ?? ''}` : undefined;
            const done = cb as (err: Error | null, socket?: Evidenced) => void;
            return createSocket.call(this, req, options, (err: Error | null, socket?: Evidenced) => {
                if (socket && url) socket[kUrl] = url;
                done(err, socket);
            });
        });
    }
}

function wrapDgram(): void {
    const proto = dgram.Socket.prototype;
    const mapped = (err: unknown, site: { stack?: string }): unknown => {
        const e = err as SocketError | null | undefined;
        if (wrappers.loaded && e?.code === 'EACCES' && (e.syscall === 'send' || e.syscall === 'connect')) return blockedFrom(e, { stack: frames(site) });
        return err;
    };
    for (const name of ['send', 'connect'] as const) {
        const original = methodOf(proto, name);
        const wrapped = function (this: dgram.Socket, ...args: unknown[]): unknown {
            if (!wrappers.loaded) return original.apply(this, args);
            // send(msg[, offset, length][, port][, address][, cb]); connect(port[, address][, cb])
            let port: unknown;
            for (let i = name === 'connect' ? 0 : 1; i < args.length; i++) if (typeof args[i] === 'number') port = args[i];
            const address = args.find((a, i) => i > 0 && typeof a === 'string');
            const site = port === undefined || mayBlock(address ?? 'localhost', port) ? callSite(wrapped) : {};
            const last = args.length - 1;
            const cb = args[last];
            if (typeof cb === 'function') args[last] = (err: unknown, ...rest: unknown[]) => (cb as (...a: unknown[]) => unknown)(mapped(err, site), ...rest);
            else if (name === 'connect') Reflect.set(this, kCallSite, site);
            return original.apply(this, args);
        };
        Reflect.set(proto, name, wrapped);
    }
    const emit = methodOf(proto, 'emit');
    Reflect.set(proto, 'emit', function (this: dgram.Socket & { [kCallSite]?: { stack?: string } }, event: unknown, ...args: unknown[]): unknown {
        if (event === 'error' && wrappers.loaded) return emit.call(this, event, mapped(args[0], this[kCallSite] ?? {}), ...args.slice(1));
        return emit.call(this, event, ...args);
    });
}

function wrapLookups(): void {
    const lookup = dns.lookup as unknown as (hostname: string, ...rest: unknown[]) => unknown;
    const wrappedLookup = function (this: unknown, name: string, ...rest: unknown[]): unknown {
        const callback = rest[rest.length - 1];
        if (!wrappers.loaded || typeof callback !== 'function') return lookup.call(this, name, ...rest);
        const frame = scopes.getStore() ?? null;
        const stack = mayBlock(name) ? frames(callSite(wrappedLookup)) : undefined;
        const refusal = scopeRefusal(name, frame, 'dns.lookup', stack);
        if (refusal) {
            report(refusal, frame, { notify: true });
            if (refusal.decision === 'block') {
                process.nextTick(callback, new EgressBlocked(refusal), undefined);
                return {};
            }
        }
        const args = rest.slice(0, -1);
        return lookup.call(this, name, ...args, (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => {
            (callback as LookupCallback)(refusedLookup(err, name, 'getaddrinfo', frame, stack), address, family);
        });
    };
    // util.promisify(dns.lookup) resolves to { address, family } through symbols on the function: keep them.
    for (const symbol of Object.getOwnPropertySymbols(lookup)) {
        Object.defineProperty(wrappedLookup, symbol, Object.getOwnPropertyDescriptor(lookup, symbol) ?? { value: undefined });
    }
    Object.defineProperty(dns, 'lookup', { value: wrappedLookup, writable: true, configurable: true, enumerable: true });

    const promises = dns.promises as unknown as { lookup: (hostname: string, options?: unknown) => Promise<unknown> };
    const promiseLookup = promises.lookup;
    const wrappedPromiseLookup = async function (this: unknown, name: string, options?: unknown): Promise<unknown> {
        if (!wrappers.loaded) return promiseLookup.call(this, name, options);
        const frame = scopes.getStore() ?? null;
        const stack = mayBlock(name) ? frames(callSite(wrappedPromiseLookup)) : undefined;
        const refusal = scopeRefusal(name, frame, 'dns.promises.lookup', stack);
        if (refusal) {
            report(refusal, frame, { notify: true });
            if (refusal.decision === 'block') throw new EgressBlocked(refusal);
        }
        try {
            return await promiseLookup.call(this, name, options);
        } catch (err) {
            throw refusedLookup(err as NodeJS.ErrnoException, name, 'getaddrinfo', frame, stack) ?? err;
        }
    };
    promises.lookup = wrappedPromiseLookup;
}

const RESOLVE_METHODS = ['resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCaa', 'resolveCname', 'resolveMx', 'resolveNaptr', 'resolveNs', 'resolvePtr', 'resolveSoa', 'resolveSrv', 'resolveTxt'];

/** A query c-ares could not send because the policy in force or a scope refused its name. */
function refusedQuery(err: unknown, name: unknown, op: EgressOp, frame: ScopeFrame | null, stack: string | undefined): unknown {
    if (!err || typeof name !== 'string' || logOnly()) return err;
    const r = refuser(name, frame, true); // null for numeric names (no lookups)
    return r ? new EgressBlocked(lookupEvent(r.x, name, op, 'block', r.by?.label ?? labelOf(frame), stack), { cause: err }) : err;
}

/** Wraps the resolve methods of `target` (callback style, or promise style). */
function wrapResolveMethods(target: object, promises: boolean): void {
    for (const method of RESOLVE_METHODS) {
        const original: unknown = Reflect.get(target, method);
        if (typeof original !== 'function') continue;
        const fn = original as Method;
        const op: EgressOp = `dns.${method}`;
        const wrapped = promises
            ? async function (this: unknown, name: unknown, ...rest: unknown[]): Promise<unknown> {
                  if (!wrappers.loaded) return fn.call(this, name, ...rest);
                  const frame = scopes.getStore() ?? null;
                  const site = mayBlock(name) ? callSite(wrapped) : {};
                  try {
                      return await fn.call(this, name, ...rest);
                  } catch (err) {
                      throw refusedQuery(err, name, op, frame, frames(site));
                  }
              }
            : function (this: unknown, name: unknown, ...rest: unknown[]): unknown {
                  const callback = rest[rest.length - 1];
                  if (!wrappers.loaded || typeof callback !== 'function') return fn.call(this, name, ...rest);
                  const frame = scopes.getStore() ?? null;
                  const site = mayBlock(name) ? callSite(wrapped) : {};
                  rest[rest.length - 1] = (err: unknown, ...results: unknown[]) => (callback as (...a: unknown[]) => unknown)(refusedQuery(err, name, op, frame, frames(site)), ...results);
                  return fn.call(this, name, ...rest);
              };
        Reflect.set(target, method, wrapped);
    }
}

function wrapResolvers(): void {
    wrapResolveMethods(dns, false);
    wrapResolveMethods(dns.Resolver.prototype, false);
    wrapResolveMethods(dns.promises, true);
    wrapResolveMethods(dns.promises.Resolver.prototype, true);
}

/** What a fetch() was asked for: the URL as given, its host (IPv6 without brackets) and port; null if unparsable. */
function fetchTarget(input: unknown): { url: string; host: string; port: number | undefined } | null {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : (input as { url?: unknown } | null)?.url;
    if (typeof url !== 'string' || !URL.canParse(url)) return null;
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : u.protocol === 'http:' ? 80 : undefined;
    return { url, host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

function fetchMayBlock(input: unknown): boolean {
    const target = fetchTarget(input);
    // redirects go elsewhere: a fetch stays "may block" unless its first host is allowed
    return !target || mayBlock(target.host, target.port);
}

const kFetchWrapped = Symbol.for('tethered.fetch.wrapped');

/** Wraps this realm's fetch (a test runner's realm may have its own), once. */
function wrapFetch(): void {
    const original = globalThis.fetch as ((input: unknown, init?: unknown) => Promise<unknown>) | undefined;
    if (typeof original !== 'function' || Reflect.get(original, kFetchWrapped) === true) return;
    const wrappedFetch = async function (input: unknown, init?: unknown): Promise<Response> {
        // undici connects from its own callbacks: the caller's stack is the one to report.
        const site = wrappers.loaded && fetchMayBlock(input) ? callSite(wrappedFetch) : undefined;
        try {
            return (await original.call(globalThis, input, init)) as Response;
        } catch (err) {
            restoreFields(err);
            const blocked = (err as { cause?: unknown }).cause;
            // duck-typed: the error may come from another copy of the package (another realm, another install)
            if (isEgressBlocked(blocked) && !blocked.event.url) {
                // The URL asked for, when it is the one refused (a redirect goes elsewhere).
                const target = fetchTarget(input);
                if (target) {
                    const dest = normaliseDestination(target.host);
                    const same = dest.kind === 'name' ? dest.name === blocked.host : target.host === blocked.ip;
                    if (same) addEvidence(blocked.event.seq, { url: target.url }, true);
                }
                addEvidence(blocked.event.seq, { stack: frames(site) }, true);
            }
            throw err;
        }
    };
    Object.defineProperty(wrappedFetch, kFetchWrapped, { value: true });
    globalThis.fetch = wrappedFetch;
}

const WORKER_INIT = join(__dirname, 'worker-init.js');

/** What a worker inherits by default: the process's execArgv without the main script's -e/-p code. */
function inheritedExecArgv(): string[] {
    const out: string[] = [];
    const argv = process.execArgv;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i] ?? '';
        if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') i++;
        else if (!/^(--eval|--print)=/.test(a)) out.push(a);
    }
    return out;
}

/**
 * Wraps worker_threads.Worker (at load, so that code which takes `Worker` after requiring tethered gets the
 * wrapper); inert until tethered is at work. A worker whose execArgv cannot take --require is started as
 * asked, without the wrappers.
 */
export function wrapWorkers(): void {
    if (wrappers.workers) return;
    wrappers.workers = true;
    const Original = workerThreads.Worker;
    const Wrapped = new Proxy(Original, {
        construct(target, args: unknown[], newTarget: (...a: unknown[]) => unknown) {
            if (wrappers.loaded) {
                const options = (args[1] ?? {}) as { execArgv?: string[] };
                const withInit = { ...options, execArgv: [...(options.execArgv ?? inheritedExecArgv()), '--require', WORKER_INIT] };
                try {
                    return Reflect.construct(target, [args[0], withInit, ...args.slice(2)], newTarget) as object;
                } catch (err) {
                    if ((err as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
                }
            }
            return Reflect.construct(target, args, newTarget) as object;
        },
    });
    Reflect.set(workerThreads, 'Worker', Wrapped);
    syncBuiltinESMExports();
}

/** At load, in every realm that loads the package: this realm's fetch gets the wrapper (inert until tethered is at work). */
export function prepareRealm(): void {
    wrapWorkers();
    wrapFetch();
}

/** Installs the wrappers once; they do nothing until tethered is first activated or a scope is made. */
export function installErrorMapping(): void {
    wrappers.loaded = true;
    wrapFetch(); // per realm
    if (wrappers.installed) return;
    wrappers.installed = true;
    wrapSockets();
    wrapDgram();
    wrapLookups();
    wrapResolvers();
    wrapWorkers();
    // `import { lookup } from 'node:dns'` reads the ESM view of the builtin: bring it up to date.
    syncBuiltinESMExports();
}
