/**
 * Turning the C layer's answers into errors JavaScript callers can act on (SPEC section 4). The shim does
 * the blocking; these wrappers only add what it cannot: an EgressBlocked (code ERR_EGRESS_BLOCKED, host,
 * ip, port, protocol, the rule that would allow it) in place of a bare EACCES or EAI_FAIL, with the
 * original error as its `cause`.
 *
 *  - net.Socket#destroy: a connect that failed with EACCES on the JavaScript thread (net, tls, http,
 *    https, http2, fetch and ws all connect through net.Socket). The event is the one the shim just made on
 *    this thread.
 *  - dns.lookup and dns.promises.lookup: getaddrinfo runs on the libuv pool, so the shim's event is on
 *    another thread; the TypeScript engine explains the same decision instead.
 */
import dns from 'node:dns';
import net from 'node:net';
import { EgressBlocked, type EgressEvent } from './errors.js';
import type { AllowPolicy } from './policy/index.js';

export interface ErrorContext {
    /** The policy in force, or null when tethered is not active. */
    policy(): AllowPolicy | null;
    /** The last event made on this thread (JSON), or null. */
    takeLastEvent(): string | null;
}

let installed = false;

function blockedConnect(err: NodeJS.ErrnoException & { address?: string; port?: number }, context: ErrorContext): Error {
    const line = context.takeLastEvent();
    if (!line) return err;
    const event = JSON.parse(line) as EgressEvent;
    if (event.decision !== 'block') return err;
    if (err.port !== undefined && event.port !== err.port) return err;
    return new EgressBlocked(event, { cause: err });
}

function blockedLookup(err: NodeJS.ErrnoException | null, hostname: string, context: ErrorContext): NodeJS.ErrnoException | null {
    if (!err || err.code !== 'EAI_FAIL') return err;
    const policy = context.policy();
    if (!policy) return err;
    const explanation = policy.explain(hostname);
    if (explanation.allowed) return err;
    const event: EgressEvent = {
        time: new Date().toISOString(),
        pid: process.pid,
        tid: process.pid,
        decision: 'block',
        op: 'getaddrinfo',
        protocol: 'dns',
        host: explanation.host ?? hostname,
        ip: null,
        port: null,
        rule: explanation.reason === 'deny-rule' ? explanation.rule : explanation.suggestion,
        reason: explanation.reason,
        scopeLabel: null,
        exe: process.execPath,
    };
    return new EgressBlocked(event, { cause: err });
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => void;

/** Installs the wrappers once; they stay in place and do nothing while tethered is not active. */
export function installErrorMapping(context: ErrorContext): void {
    if (installed) return;
    installed = true;

    const destroy: (this: net.Socket, error?: Error) => net.Socket = Reflect.get(net.Socket.prototype, 'destroy');
    const wrappedDestroy = function (this: net.Socket, error?: Error) {
        const e = error as (NodeJS.ErrnoException & { address?: string; port?: number }) | undefined;
        if (e?.code === 'EACCES' && e.syscall === 'connect' && context.policy()) {
            return destroy.call(this, blockedConnect(e, context));
        }
        return destroy.call(this, error);
    };
    Reflect.set(net.Socket.prototype, 'destroy', wrappedDestroy);

    const lookup = dns.lookup as unknown as (hostname: string, ...rest: unknown[]) => unknown;
    const wrappedLookup = function (this: unknown, hostname: string, ...rest: unknown[]): unknown {
        const callback = rest[rest.length - 1];
        if (typeof callback !== 'function') return lookup.call(this, hostname, ...rest);
        const args = rest.slice(0, -1);
        return lookup.call(this, hostname, ...args, (err: NodeJS.ErrnoException | null, address: unknown, family?: number) => {
            (callback as LookupCallback)(blockedLookup(err, hostname, context), address, family);
        });
    };
    // util.promisify(dns.lookup) resolves to { address, family } through symbols on the function: keep them.
    for (const symbol of Object.getOwnPropertySymbols(lookup)) {
        Object.defineProperty(wrappedLookup, symbol, Object.getOwnPropertyDescriptor(lookup, symbol) ?? { value: undefined });
    }
    Object.defineProperty(dns, 'lookup', { value: wrappedLookup, writable: true, configurable: true, enumerable: true });

    const promises = dns.promises as unknown as { lookup: (hostname: string, options?: unknown) => Promise<unknown> };
    const promiseLookup = promises.lookup;
    promises.lookup = async function (this: unknown, hostname: string, options?: unknown): Promise<unknown> {
        try {
            return await promiseLookup.call(this, hostname, options);
        } catch (err) {
            throw blockedLookup(err as NodeJS.ErrnoException, hostname, context) ?? err;
        }
    };
}
