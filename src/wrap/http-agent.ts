/**
 * http.Agent (https.Agent inherits it): the URL of each request that needs a new connection, kept on its
 * socket; and a request the agent keeps waiting (maxSockets, maxTotalSockets) gets its connection, or a
 * freed keep-alive socket, in the scope it was made in (queued.ts).
 */
import http from 'node:http';
import { kUrl } from '../evidence.js';
import type { Evidenced } from './net.js';
import { frameNow, inFrame, NO_FRAME, type Asked } from './queued.js';
import { methodOf } from './state.js';

const kFrame = Symbol('tethered.scope');
type Framed = { [kFrame]?: Asked; socket?: unknown };

export function wrapAgents(): void {
    // called by the ClientRequest constructor, in the caller's async context
    const addRequest = methodOf(http.Agent.prototype, 'addRequest');
    Reflect.set(http.Agent.prototype, 'addRequest', function (this: unknown, req: unknown, ...rest: unknown[]): unknown {
        if (req !== null && typeof req === 'object') (req as Framed)[kFrame] = frameNow();
        return addRequest.call(this, req, ...rest);
    });
    // A body written inside a scope before the request has its socket is sent when it gets one: in that
    // scope (the innermost the request was written in), not in the scope it was made in.
    for (const name of ['write', 'end', 'flushHeaders'] as const) {
        const original = methodOf(http.ClientRequest.prototype, name);
        Reflect.set(http.ClientRequest.prototype, name, function (this: Framed, ...args: unknown[]): unknown {
            if (!this.socket) {
                const asked = frameNow();
                if (asked !== NO_FRAME) this[kFrame] = asked;
            }
            return original.apply(this, args);
        });
    }
    // what a request kept until it had a socket (headers, a body written before) is sent from here
    const flushOutput = methodOf(http.ClientRequest.prototype, '_flushOutput');
    Reflect.set(http.ClientRequest.prototype, '_flushOutput', function (this: Framed, ...args: unknown[]): unknown {
        return inFrame(this[kFrame], () => flushOutput.apply(this, args));
    });
    // a socket handed to a request (new, or a freed keep-alive one): the request is written from here on
    const onSocket = methodOf(http.ClientRequest.prototype, 'onSocket');
    Reflect.set(http.ClientRequest.prototype, 'onSocket', function (this: Framed, ...args: unknown[]): unknown {
        return inFrame(this[kFrame], () => onSocket.apply(this, args));
    });
    const createSocket = methodOf(http.Agent.prototype, 'createSocket');
    Reflect.set(http.Agent.prototype, 'createSocket', function (this: unknown, req: unknown, options: unknown, cb: unknown): unknown {
        const r = req as { protocol?: string; host?: string; path?: string };
        const o = options as { port?: number | string; defaultPort?: number };
        const port = o.port !== undefined && Number(o.port) !== (r.protocol === 'https:' ? 443 : 80) ? `:${o.port}` : '';
        const url = r.protocol && r.host ? `${r.protocol}//${r.host.includes(':') ? `[${r.host}]` : r.host}${port}${r.path ?? ''}` : undefined;
        const done = cb as (err: Error | null, socket?: Evidenced) => void;
        return inFrame((req as Framed | null)?.[kFrame], () =>
            createSocket.call(this, req, options, (err: Error | null, socket?: Evidenced) => {
                if (socket && url) socket[kUrl] = url;
                done(err, socket);
            }),
        );
    });
}
