/**
 * http2: a request on a session is written by Node's own C++ from the event loop, later, outside the async
 * context of the caller; a session opened before a scope, outside it, would carry a request made inside it.
 * So ClientHttp2Session#request asks the shim, before anything is submitted, whether the caller's scope
 * lets data go to the session's peer (the addon's checkPeer, with the thread's word speaking for the
 * scope, as a socket write does): a refusal throws the EgressBlocked of the shim's event, and nothing of the
 * request is sent. So are a stream's writes and trailers, and a ping's or goaway's payload, which nghttp2
 * sends later too. A session still connecting is judged by its connect instead.
 */
import type Http2 from 'node:http2';
import { createRequire } from 'node:module';
import { Duplex } from 'node:stream';
import { currentFrame, scopesMade } from '../runtime.js';
import { perThread } from '../shared.js';
import { methodOf, wrappers, type Method } from './state.js';
import { endCarriesData, fdOf, peerRefused, writeBlocked } from './writes.js';

const patched = perThread('http2-request', () => new WeakSet());
// Whether this thread's http2 is wrapped, and how long the runtime's list of loaded modules was when it
// was last looked at (tethered never loads http2 itself: that alone costs milliseconds at start-up).
const state = perThread('http2-wrapped', () => ({ wrapped: false, looked: -1 }));

/** Does the caller's scope refuse what `session` would send to its peer? (An event is made if so.) */
function sessionRefused(session: unknown): boolean {
    if (!wrappers.loaded || !scopesMade.any || currentFrame() === null) return false;
    return peerRefused(fdOf((session as { socket?: Parameters<typeof fdOf>[0] } | null)?.socket), true);
}

/** A stream's write and end: judged in the writer's scope against the session's peer (nghttp2 sends later). */
function wrapStreamWrites(stream: unknown): void {
    if (stream === null || typeof stream !== 'object') return;
    const proto: unknown = Object.getPrototypeOf(stream);
    if (proto === null || typeof proto !== 'object' || patched.has(proto)) return;
    patched.add(proto);
    for (const name of ['write', 'end', 'sendTrailers'] as const) {
        const original = Reflect.get(proto, name) as Method | undefined;
        if (typeof original !== 'function') continue;
        const guarded = function (this: { session?: unknown; destroy(e: Error): void }, ...args: unknown[]): unknown {
            if ((name !== 'end' || endCarriesData(args)) && sessionRefused(this.session)) {
                this.destroy(writeBlocked(guarded));
                return false;
            }
            return original.apply(this, args);
        };
        Reflect.set(proto, name, guarded);
    }
}

function wrapRequest(session: unknown): void {
    if (session === null || typeof session !== 'object') return;
    const proto: unknown = Object.getPrototypeOf(session);
    if (proto === null || typeof proto !== 'object' || patched.has(proto)) return;
    patched.add(proto);
    const request = Reflect.get(proto, 'request') as Method | undefined;
    if (typeof request !== 'function') return;
    const wrapped = function (this: object, ...args: unknown[]): unknown {
        if (sessionRefused(this)) throw writeBlocked(wrapped);
        const stream = request.apply(this, args);
        wrapStreamWrites(stream);
        return stream;
    };
    Reflect.set(proto, 'request', wrapped);
    // a ping's payload and a goaway's opaque data are bytes to the peer too
    for (const [name, dataAt] of [['ping', 0], ['goaway', 2]] as const) {
        const original = Reflect.get(proto, name) as Method | undefined;
        if (typeof original !== 'function') continue;
        const guarded = function (this: object, ...args: unknown[]): unknown {
            const data = args[dataAt];
            if (data !== null && typeof data === 'object' && sessionRefused(this)) throw writeBlocked(guarded);
            return original.apply(this, args);
        };
        Reflect.set(proto, name, guarded);
    }
}

/**
 * The session and stream classes, patched at once (a session over a stream of no network: nothing is sent),
 * so that a session opened through a reference to http2.connect taken before the wrappers were in is
 * judged too.
 */
function wrapEagerly(http2: typeof Http2, connect: Method): void {
    try {
        const inert = new Duplex({ read() {}, write(_chunk, _encoding, done) { done(); } });
        const session = connect.call(http2, 'http://localhost', { createConnection: () => inert }) as { on(e: string, f: () => void): void; destroy(): void; request(h: object): { on(e: string, f: () => void): void; destroy(): void } };
        session.on('error', () => {});
        wrapRequest(session);
        const stream = session.request({ ':path': '/' });
        stream.on('error', () => {});
        wrapStreamWrites(stream);
        stream.destroy();
        session.destroy();
        inert.destroy();
    } catch {
        // patched with the first session instead
    }
}

function wrapHttp2(http2: typeof Http2): void {
    const connect = methodOf(http2, 'connect');
    wrapEagerly(http2, connect);
    Reflect.set(http2, 'connect', function (this: unknown, ...args: unknown[]): unknown {
        const session = connect.apply(this, args);
        wrapRequest(session);
        return session;
    });
}

/**
 * Wraps http2 once the program has loaded it: called when the wrappers go in, and before every TCP
 * connect (an HTTP/2 session connects through net or tls), which pays a length comparison until then.
 * Where the runtime keeps no list of loaded modules, http2 is loaded and wrapped at once.
 */
export function wrapHttp2IfLoaded(): void {
    if (state.wrapped) return;
    const list: unknown = Reflect.get(process, 'moduleLoadList');
    if (Array.isArray(list)) {
        if (list.length === state.looked) return;
        state.looked = list.length;
        if (!list.includes('NativeModule http2')) return;
    }
    state.wrapped = true;
    wrapHttp2(createRequire(__filename)('node:http2') as typeof Http2);
}
