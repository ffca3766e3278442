/** dgram send and connect: a refused datagram becomes an EgressBlocked, for the callback or the 'error' event. */
import dgram from 'node:dgram';
import { blockedFrom, type SocketError } from '../blocked.js';
import { mayBeRefused } from '../decisions.js';
import { callSite, frames, kCallSite, type CallSite } from '../evidence.js';
import { methodOf, wrappers } from './state.js';
import { scopesMade } from '../runtime.js';
import { frameNow, inFrame } from './queued.js';
import { sayScopeOn } from './scope-word.js';

/** A dgram socket's state (kept under a symbol of Node's own): its UDP handle, and the jobs waiting for its bind. */
function stateOf(socket: object): { handle?: unknown; queue?: unknown } | undefined {
    const key = Object.getOwnPropertySymbols(socket).find((k) => k.description === 'state symbol');
    const state: unknown = key === undefined ? undefined : Reflect.get(socket, key);
    return state !== null && typeof state === 'object' ? state : undefined;
}

function handleOf(socket: object): unknown {
    return stateOf(socket)?.handle;
}

/** The jobs a call added to the queue of a socket not bound yet are done, on 'listening', in the caller's scope. */
function queuedInScope(socket: object, call: () => unknown): unknown {
    if (!scopesMade.any) return call();
    const frame = frameNow();
    const state = stateOf(socket);
    const before = Array.isArray(state?.queue) ? state.queue.length : 0;
    const result = call();
    const queue: unknown = state?.queue;
    if (Array.isArray(queue))
        for (let i = before; i < queue.length; i++) {
            const job: unknown = queue[i];
            if (typeof job === 'function') queue[i] = () => inFrame(frame, () => (job as () => unknown)());
        }
    return result;
}

export function wrapDgram(): void {
    const proto = dgram.Socket.prototype;
    const mapped = (err: unknown, site: CallSite): unknown => {
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
            const site = port === undefined || mayBeRefused(address ?? 'localhost', port) ? callSite(wrapped) : {};
            const last = args.length - 1;
            const cb = args[last];
            if (typeof cb === 'function') args[last] = (err: unknown, ...rest: unknown[]) => (cb as (...a: unknown[]) => unknown)(mapped(err, site), ...rest);
            else if (name === 'connect') Reflect.set(this, kCallSite, site);
            sayScopeOn('UDP', ['send', 'send6', 'connect', 'connect6'], () => handleOf(this));
            return queuedInScope(this, () => original.apply(this, args));
        };
        Reflect.set(proto, name, wrapped);
    }
    const emit = methodOf(proto, 'emit');
    Reflect.set(proto, 'emit', function (this: dgram.Socket & { [kCallSite]?: CallSite }, event: unknown, ...args: unknown[]): unknown {
        if (event === 'error' && wrappers.loaded) return emit.call(this, event, mapped(args[0], this[kCallSite] ?? {}), ...args.slice(1));
        return emit.call(this, event, ...args);
    });
}
