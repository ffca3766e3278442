/**
 * dns:
 *  - dns.lookup and dns.promises.lookup run getaddrinfo on the libuv pool, where no scope is known: the
 *    scopes the caller is in are checked here, before the lookup is sent to the pool; a lookup the policy
 *    in force refused (EAI_FAIL) is explained by the TypeScript engine.
 *  - dns.resolve* and dns.Resolver (c-ares sends its own queries on this thread; the shim judges each by
 *    its name): the failure of a refused query becomes an EgressBlocked.
 */
import dns from 'node:dns';
import { EgressBlocked, type EgressOp } from '../errors.js';
import { firstRefusal, labelOf, mayBeRefused, scopeRefusal } from '../decisions.js';
import { lookupEvent } from '../event.js';
import { callSite, frames } from '../evidence.js';
import { currentFrame, logOnly, report, type ScopeFrame } from '../runtime.js';
import { wrappers, type Method } from './state.js';

/** A lookup the policy in force refused (the shim's event is on a pool thread): explain it here. */
function refusedLookup(err: NodeJS.ErrnoException | null, name: string, op: EgressOp, frame: ScopeFrame | null, stack: string | undefined): NodeJS.ErrnoException | null {
    if (!err || err.code !== 'EAI_FAIL') return err;
    const r = firstRefusal(name, null, true);
    if (!r) return err;
    const event = lookupEvent(r.x, name, op, 'block', labelOf(frame), stack);
    report(event, frame, { notify: false }); // onBlocked has the shim's event already
    return new EgressBlocked(event, { cause: err });
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void;

function wrapLookups(): void {
    const lookup = dns.lookup as unknown as (hostname: string, ...rest: unknown[]) => unknown;
    const wrappedLookup = function (this: unknown, name: string, ...rest: unknown[]): unknown {
        const callback = rest[rest.length - 1];
        if (!wrappers.loaded || typeof callback !== 'function') return lookup.call(this, name, ...rest);
        const frame = currentFrame();
        const stack = mayBeRefused(name) ? frames(callSite(wrappedLookup)) : undefined;
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
        const frame = currentFrame();
        const stack = mayBeRefused(name) ? frames(callSite(wrappedPromiseLookup)) : undefined;
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
    const r = firstRefusal(name, frame, true); // null for numeric names (no lookups)
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
                  const frame = currentFrame();
                  const site = mayBeRefused(name) ? callSite(wrapped) : {};
                  try {
                      return await fn.call(this, name, ...rest);
                  } catch (err) {
                      throw refusedQuery(err, name, op, frame, frames(site));
                  }
              }
            : function (this: unknown, name: unknown, ...rest: unknown[]): unknown {
                  const callback = rest[rest.length - 1];
                  if (!wrappers.loaded || typeof callback !== 'function') return fn.call(this, name, ...rest);
                  const frame = currentFrame();
                  const site = mayBeRefused(name) ? callSite(wrapped) : {};
                  rest[rest.length - 1] = (err: unknown, ...results: unknown[]) => (callback as (...a: unknown[]) => unknown)(refusedQuery(err, name, op, frame, frames(site)), ...results);
                  return fn.call(this, name, ...rest);
              };
        Reflect.set(target, method, wrapped);
    }
}

/** Wraps dns.lookup, dns.promises.lookup and every resolve method (module functions and Resolver classes). */
export function wrapDns(): void {
    wrapLookups();
    wrapResolveMethods(dns, false);
    wrapResolveMethods(dns.Resolver.prototype, false);
    wrapResolveMethods(dns.promises, true);
    wrapResolveMethods(dns.promises.Resolver.prototype, true);
}
