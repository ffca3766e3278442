/**
 * net.Socket (and with it tls, http, https, http2, undici and ws, which all connect through it): connect
 * records the caller's stack when the destination may be refused; destroy turns a connect that failed with
 * EACCES into an EgressBlocked for the event the shim just made on this thread.
 */
import net from 'node:net';
import { blockedFrom, type SocketError } from '../blocked.js';
import { mayBeRefused } from '../decisions.js';
import { callSite, frames, kCallSite, kUrl, type CallSite } from '../evidence.js';
import { methodOf, wrappers } from './state.js';
import { sayScopeOn } from './scope-word.js';
import { wrapHttp2IfLoaded } from './http2.js';
import { guardWrite, guardWriteGeneric, markOutbound } from './writes.js';

export type Evidenced = net.Socket & { [kCallSite]?: CallSite; [kUrl]?: string };

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

export function wrapSockets(): void {
    const proto = net.Socket.prototype;
    const connect = methodOf(proto, 'connect');
    const wrappedConnect = function (this: Evidenced, ...args: unknown[]): unknown {
        if (wrappers.loaded) {
            const target = connectTarget(args);
            if (target && mayBeRefused(target.host, target.port)) this[kCallSite] = callSite(wrappedConnect);
        }
        markOutbound(this);
        wrapHttp2IfLoaded(); // an HTTP/2 session connects through here: its classes are wrapped before it is
        const result = connect.apply(this, args);
        sayScopeOn('TCP', ['connect', 'connect6'], () => (this as { _handle?: unknown })._handle);
        return result;
    };
    Reflect.set(proto, 'connect', wrappedConnect);

    // what is written inside a scope on a connection opened outside it (writes.ts)
    Reflect.set(proto, 'write', guardWrite(methodOf(proto, 'write'), 'write'));
    Reflect.set(proto, 'end', guardWrite(methodOf(proto, 'end'), 'end'));
    Reflect.set(proto, '_writeGeneric', guardWriteGeneric(methodOf(proto, '_writeGeneric')));

    const destroy = methodOf(proto, 'destroy');
    Reflect.set(proto, 'destroy', function (this: Evidenced, error?: unknown): unknown {
        const e = error as SocketError | undefined;
        // a connect refused, or a write refused by a scope on a connection opened outside it (a pooled one)
        if (wrappers.loaded && e?.code === 'EACCES' && (e.syscall === 'connect' || e.syscall === 'write')) {
            return destroy.call(this, blockedFrom(e, { stack: frames(this[kCallSite]), url: this[kUrl] }));
        }
        return destroy.call(this, error);
    });
}
