/** http.Agent (https.Agent inherits it): the URL of each request that needs a new connection, kept on its socket. */
import http from 'node:http';
import { kUrl } from '../evidence.js';
import type { Evidenced } from './net.js';
import { methodOf } from './state.js';

export function wrapAgents(): void {
    const createSocket = methodOf(http.Agent.prototype, 'createSocket');
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
