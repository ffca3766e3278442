/**
 * Turning the C layer's answers into errors JavaScript callers can act on (docs/rules.md, What a block
 * looks like), and adding the evidence only JavaScript has (the caller's stack, the URL). The shim does
 * the blocking; the wrappers only add what it cannot. One file per Node module family (src/wrap/):
 *
 *  - net.ts: net.Socket connect and destroy (tls, http, https, http2, fetch and ws all connect through it);
 *  - http-agent.ts: the URL of an HTTP(S) request, on its socket;
 *  - dgram.ts: dgram send and connect;
 *  - http2.ts: a client session's requests, judged for the caller's scope before they are submitted
 *    (wrapped once the program loads http2);
 *  - dns.ts: dns.lookup, dns.promises.lookup, the resolve methods and Resolver classes;
 *  - fetch.ts: fetch's caller's stack and URL;
 *  - workers.ts: worker_threads.Worker loads worker-init.js.
 *
 * What they share: decisions.ts (may this be refused, who refuses it), evidence.ts (stacks, URLs),
 * event.ts (the one EgressEvent factory), blocked.ts (the EgressBlocked for the shim's event).
 */
import { syncBuiltinESMExports } from 'node:module';
import { wrapDgram } from './wrap/dgram.js';
import { wrapDns } from './wrap/dns.js';
import { wrapFetch } from './wrap/fetch.js';
import { wrapAgents } from './wrap/http-agent.js';
import { wrapHttp2IfLoaded } from './wrap/http2.js';
import { wrapSockets } from './wrap/net.js';
import { wrappers } from './wrap/state.js';
import { wrapWorkers } from './wrap/workers.js';

export { wrapWorkers };

/** At load, in every realm that loads the package: this realm's fetch gets the wrapper (inert until tethered is at work). */
export function prepareRealm(): void {
    wrapWorkers();
    wrapFetch();
}

/** Installs the wrappers once; they do nothing until tethered is first activated or a scope is made. */
export function installErrorMapping(): void {
    wrappers.loaded = true;
    wrapFetch(); // per realm
    if (wrappers.installed) return;
    wrappers.installed = true;
    wrapSockets();
    wrapAgents();
    wrapDgram();
    wrapHttp2IfLoaded();
    wrapDns();
    wrapWorkers();
    // `import { lookup } from 'node:dns'` reads the ESM view of the builtin: bring it up to date.
    syncBuiltinESMExports();
}
