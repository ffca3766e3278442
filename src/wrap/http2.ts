/**
 * http2: a request on a session is written by Node's own C++ from the event loop, later, outside the async
 * context of the caller; a session opened before a scope, outside it, would carry a request made inside it.
 * So ClientHttp2Session#request asks the shim, before anything is submitted, whether the caller's scope
 * lets data go to the session's peer (the addon's checkPeer, with the thread's word speaking for the
 * scope, as a socket write does): a refusal throws the EgressBlocked of the shim's event, and nothing of the
 * request is sent. A session still connecting is judged by its connect instead.
 */
import http2 from 'node:http2';
import { blockedFrom, type SocketError } from '../blocked.js';
import { callSite, frames } from '../evidence.js';
import { runtime, scopesMade } from '../runtime.js';
import { perThread } from '../shared.js';
import { sayScope } from './scope-word.js';
import { methodOf, wrappers, type Method } from './state.js';

const EACCES = 13;
const patched = perThread('http2-request', () => new WeakSet());

/** The descriptor of a session's socket (a TLS socket's handle wraps the TCP handle), or -1. */
function fdOf(session: object): number {
    const socket = (session as { socket?: { _handle?: { fd?: unknown; _parent?: { fd?: unknown } } | null } }).socket;
    const handle = socket?._handle;
    const fd = typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : handle?._parent?.fd;
    return typeof fd === 'number' ? fd : -1;
}

const judge = sayScope(function (this: unknown, fd: unknown): unknown {
    return runtime().addon.checkPeer(fd as number);
});

function wrapRequest(session: unknown): void {
    if (session === null || typeof session !== 'object') return;
    const proto: unknown = Object.getPrototypeOf(session);
    if (proto === null || typeof proto !== 'object' || patched.has(proto)) return;
    patched.add(proto);
    const request = Reflect.get(proto, 'request') as Method | undefined;
    if (typeof request !== 'function') return;
    const wrapped = function (this: object, ...args: unknown[]): unknown {
        if (wrappers.loaded && scopesMade.any) {
            const fd = fdOf(this);
            if (fd >= 0 && judge.call(null, fd) === EACCES) {
                const err: SocketError = Object.assign(new Error('http2 request refused: EACCES'), { code: 'EACCES', errno: -EACCES, syscall: 'write' });
                throw blockedFrom(err, { stack: frames(callSite(wrapped)) });
            }
        }
        return request.apply(this, args);
    };
    Reflect.set(proto, 'request', wrapped);
}

export function wrapHttp2(): void {
    const connect = methodOf(http2, 'connect');
    Reflect.set(http2, 'connect', function (this: unknown, ...args: unknown[]): unknown {
        const session = connect.apply(this, args);
        wrapRequest(session);
        return session;
    });
}
