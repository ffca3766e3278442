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
import { perThread } from '../shared.js';
import { currentFrame, runtime } from '../runtime.js';
import type { NativeScope } from '../native.js';

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

// Where a TCP socket's connect(2) happens: Node's TCP handle's connect and connect6, called from JavaScript
// (net's internalConnect, in the socket's async context) and making the system call before they return.
// Around that call the wrapper tells the shim which scope the caller is in, through the thread's word, so the
// hook does not call back into JavaScript to ask (about 2 us: a signal-mask read and a call into the engine).
// Once per thread: the handle class is per thread, and so is the word.
const NO_SCOPE = 1;
const tcpEntry = perThread('tcpEntry', () => ({ patched: false, word: undefined as Uint32Array | null | undefined, entered: null as NativeScope | null, number: 0 }));

function scopeWord(): Uint32Array | null {
    if (tcpEntry.word === undefined) {
        try {
            const buffer = runtime().addon.scopeWord();
            tcpEntry.word = buffer ? new Uint32Array(buffer) : null;
        } catch {
            tcpEntry.word = null;
        }
    }
    return tcpEntry.word;
}

function sayScope(native: (this: unknown, ...args: unknown[]) => unknown) {
    return function (this: unknown, ...args: unknown[]): unknown {
        const word = scopeWord();
        if (word === null) return Reflect.apply(native, this, args);
        const frame = currentFrame();
        if (frame === null) {
            word[0] = NO_SCOPE;
        } else {
            if (tcpEntry.entered !== frame.native) {
                try {
                    tcpEntry.number = runtime().addon.scopeEnter(frame.native);
                    tcpEntry.entered = frame.native;
                } catch {
                    return Reflect.apply(native, this, args); // the shim asks, as without this
                }
            }
            word[0] = tcpEntry.number;
        }
        try {
            return Reflect.apply(native, this, args);
        } finally {
            word[0] = 0;
        }
    };
}

/** Wraps connect and connect6 of the TCP handle class `handle` is of, once per thread. */
function sayScopeOnConnect(handle: unknown): void {
    if (tcpEntry.patched || handle === null || typeof handle !== 'object') return;
    const proto: unknown = Object.getPrototypeOf(handle);
    if (proto === null || typeof proto !== 'object' || (proto as { constructor?: { name?: unknown } }).constructor?.name !== 'TCP') return;
    tcpEntry.patched = true;
    for (const name of ['connect', 'connect6']) {
        const native: unknown = Reflect.get(proto, name);
        if (typeof native === 'function') Reflect.set(proto, name, sayScope(native as (this: unknown, ...args: unknown[]) => unknown));
    }
}

export function wrapSockets(): void {
    const proto = net.Socket.prototype;
    const connect = methodOf(proto, 'connect');
    const wrappedConnect = function (this: Evidenced, ...args: unknown[]): unknown {
        if (wrappers.loaded) {
            const target = connectTarget(args);
            if (target && mayBeRefused(target.host, target.port)) this[kCallSite] = callSite(wrappedConnect);
        }
        const result = connect.apply(this, args);
        if (!tcpEntry.patched) sayScopeOnConnect((this as { _handle?: unknown })._handle);
        return result;
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
}
