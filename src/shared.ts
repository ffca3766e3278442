/**
 * State that must exist once per JavaScript thread, however many copies of this package run on it: ESM and
 * CJS, a second install at another path, a `require.cache` reset, Jest's per-file module registries, a `vm`
 * realm. Each copy has its own module variables, but all of them on one thread share Node's builtin
 * modules, and every realm of an isolate shares the `Symbol.for` registry: the state hangs off a builtin
 * module under a registered symbol. The policy itself is not kept here but in the addon (one per process,
 * see activate.ts); this holds what is per thread: the scope registry, the wrappers' switch, evidence.
 */
import asyncHooks from 'node:async_hooks';

// The layout of what is kept changes with this number: copies of different layouts keep apart.
const LAYOUT = 1;

/** The one `T` of this thread for `name`, made by the first copy that asks. */
export function perThread<T>(name: string, make: () => T): T {
    const key = Symbol.for(`tethered.${name}@${LAYOUT}`);
    const holder = asyncHooks as unknown as Record<symbol, T | undefined>;
    const known = holder[key];
    if (known !== undefined) return known;
    const value = make();
    Object.defineProperty(holder, key, { value, enumerable: false, configurable: false, writable: false });
    return value;
}
