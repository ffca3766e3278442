/**
 * What a scope judges of a connection opened outside it (a keep-alive pool's, a socket handed in): the
 * bytes written to it inside the scope. They are judged where they are written, in the writer's async
 * context, before Node can hold them anywhere (the stream's buffer behind a pending write, a socket still
 * connecting, a TLS socket before its handshake): `net.Socket#write` and `#end` ask the shim now, with the
 * thread's word speaking for the writer's scope, whether the scope lets data go to the socket's peer
 * (tethered_check_peer: the peer's address and the names this process resolved to it, by the scopes alone).
 * A write a socket still connecting keeps is judged in the writer's scope when Node sends it. Refused, the
 * socket is destroyed with the EgressBlocked of the shim's event and nothing of the write is sent.
 *
 * Only sockets this thread connected through net.Socket#connect are judged, and TLS sockets layered on one:
 * a connection a server accepted (whatever handed it over: a server, a parent process, inetd) carries
 * replies, not requests.
 */
import type net from 'node:net';
import { blockedFrom, type SocketError } from '../blocked.js';
import { callSite, frames } from '../evidence.js';
import { currentFrame, runtime, scopesMade, type ScopeFrame } from '../runtime.js';
import { perThread } from '../shared.js';
import { frameNow, inFrame, type Asked } from './queued.js';
import { sayScope } from './scope-word.js';
import type { Method } from './state.js';

const EACCES = 13;
const kPending = Symbol('tethered.pendingWriteScope');
type Socket = net.Socket & { [kPending]?: ScopeFrame | undefined; _handle?: { fd?: unknown; _parent?: { fd?: unknown } } | null };

// The sockets this thread connected, by the scope frame their connect was made in: a write in that very
// frame needs no judgement (its connect was judged by the same scopes, and a socket's peer never changes).
const outbound = perThread('outbound-sockets', () => new WeakMap<object, Asked>());

/** A socket this thread connects (net.Socket#connect, tls.connect, every client of Node's). */
export function markOutbound(socket: object): void {
    outbound.set(socket, frameNow());
}

/**
 * The frame `socket` was connected in, or the socket a TLS socket is layered on (STARTTLS, a proxy's
 * tunnel); undefined when this thread did not connect it.
 */
function openedIn(socket: object): Asked | undefined {
    let s: unknown = socket;
    for (let depth = 0; depth < 4 && s !== null && typeof s === 'object'; depth++) {
        const frame = outbound.get(s);
        if (frame !== undefined) return frame;
        s = (s as { _parent?: unknown })._parent;
    }
    return undefined;
}

/** The descriptor of a socket's connection (a TLS socket's handle wraps the TCP handle), or -1. */
export function fdOf(socket: { _handle?: { fd?: unknown; _parent?: { fd?: unknown } } | null } | null | undefined): number {
    const handle = socket?._handle;
    const fd = typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : handle?._parent?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : -1;
}

const checkPeer = sayScope(function (this: unknown, fd: unknown, http2: unknown): unknown {
    return runtime().addon.checkPeer(fd as number, http2 === true);
});

/**
 * Does the caller's scope refuse data to the peer of connected descriptor `fd`? (An event is made if so,
 * op `write`, or `http2.request` for what an HTTP/2 session sends.)
 */
export function peerRefused(fd: number, http2 = false): boolean {
    return fd >= 0 && checkPeer.call(null, fd, http2) === EACCES;
}

/** Do these arguments of end() carry data (end(data[, encoding][, cb]))? */
export function endCarriesData(args: readonly unknown[]): boolean {
    return args.length > 0 && typeof args[0] !== 'function' && args[0] !== undefined && args[0] !== null;
}

/** The EgressBlocked for the shim's last event on this thread, as a write's error. */
export function writeBlocked(skip: (...args: never[]) => unknown): Error {
    const err: SocketError = Object.assign(new Error('write EACCES'), { code: 'EACCES', errno: -EACCES, syscall: 'write' });
    return blockedFrom(err, { stack: frames(callSite(skip)) });
}

/** net.Socket#write and #end: judged in the writer's scope (see above). */
export function guardWrite(original: Method, name: 'write' | 'end'): Method {
    const guarded = function (this: unknown, ...args: unknown[]): unknown {
        const socket = this as Socket;
        if (!scopesMade.any) return Reflect.apply(original, this, args);
        const opened = openedIn(socket);
        if (opened === undefined) return Reflect.apply(original, this, args);
        if (name === 'end' && !endCarriesData(args)) return Reflect.apply(original, this, args);
        const frame = currentFrame();
        if (frame === null || frame === opened) return Reflect.apply(original, this, args);
        if (socket.connecting) {
            socket[kPending] = frame; // judged when Node sends it (writeGeneric below)
        } else if (peerRefused(fdOf(socket))) {
            const err = writeBlocked(guarded);
            socket.destroy(err);
            // the write's callback hears it, as of a write that failed
            const cb = [...args].reverse().find((a) => typeof a === 'function') as ((e: Error) => void) | undefined;
            if (cb) process.nextTick(cb, err);
            return false;
        }
        return Reflect.apply(original, this, args);
    };
    return guarded;
}

/**
 * net.Socket#_writeGeneric (what write and end end in, at once or when Node sends what it kept): a write a
 * socket kept while connecting is judged here, once connected, in the scope it was asked in (every other
 * write was judged by write or end, where it was made).
 */
export function guardWriteGeneric(original: Method): Method {
    const guarded = function (this: unknown, ...args: unknown[]): unknown {
        const socket = this as Socket;
        const pending = socket.connecting ? undefined : socket[kPending];
        if (pending === undefined) return Reflect.apply(original, this, args);
        socket[kPending] = undefined;
        const refused = inFrame(pending, () => peerRefused(fdOf(socket)));
        if (refused) {
            const cb = args[3];
            const err = writeBlocked(guarded);
            if (typeof cb === 'function') (cb as (e: Error) => void)(err);
            else socket.destroy(err);
            return undefined;
        }
        return Reflect.apply(original, this, args);
    };
    return guarded;
}
