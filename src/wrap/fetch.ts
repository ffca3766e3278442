/** fetch (undici): the caller's stack and the URL of a request refused while connecting. */
import { restoreFields } from '../blocked.js';
import { mayBeRefused } from '../decisions.js';
import { isEgressBlocked } from '../errors.js';
import { addEvidence, callSite, frames } from '../evidence.js';
import { normaliseDestination } from '../policy/index.js';
import { wrappers } from './state.js';

/** What a fetch() was asked for: the URL as given, its host (IPv6 without brackets) and port; null if unparsable. */
function fetchTarget(input: unknown): { url: string; host: string; port: number | undefined } | null {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : (input as { url?: unknown } | null)?.url;
    if (typeof url !== 'string' || !URL.canParse(url)) return null;
    const u = new URL(url);
    const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : u.protocol === 'http:' ? 80 : undefined;
    return { url, host: u.hostname.replace(/^\[|\]$/g, ''), port };
}

function fetchMayBeRefused(input: unknown): boolean {
    const target = fetchTarget(input);
    // redirects go elsewhere: a fetch stays "may be refused" unless its first host is allowed
    return !target || mayBeRefused(target.host, target.port);
}

const kFetchWrapped = Symbol.for('tethered.fetch.wrapped');

/** Wraps this realm's fetch (a test runner's realm may have its own), once. */
export function wrapFetch(): void {
    const original = globalThis.fetch as ((input: unknown, init?: unknown) => Promise<unknown>) | undefined;
    if (typeof original !== 'function' || Reflect.get(original, kFetchWrapped) === true) return;
    const wrappedFetch = async function (input: unknown, init?: unknown): Promise<Response> {
        // undici connects from its own callbacks: the caller's stack is the one to report.
        const site = wrappers.loaded && fetchMayBeRefused(input) ? callSite(wrappedFetch) : undefined;
        try {
            return (await original.call(globalThis, input, init)) as Response;
        } catch (err) {
            restoreFields(err);
            const blocked = (err as { cause?: unknown }).cause;
            // duck-typed: the error may come from another copy of the package (another realm, another install)
            if (isEgressBlocked(blocked) && !blocked.event.url) {
                // The URL asked for, when it is the one refused (a redirect goes elsewhere).
                const target = fetchTarget(input);
                if (target) {
                    const dest = normaliseDestination(target.host);
                    const same = dest.kind === 'name' ? dest.name === blocked.host : target.host === blocked.ip;
                    if (same) addEvidence(blocked.event.seq, { url: target.url }, true);
                }
                addEvidence(blocked.event.seq, { stack: frames(site) }, true);
            }
            throw err;
        }
    };
    Object.defineProperty(wrappedFetch, kFetchWrapped, { value: true });
    globalThis.fetch = wrappedFetch;
}
