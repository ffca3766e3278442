/** What every wrapper of src/wrap/ shares: the per-thread switch, and how a method is taken to be wrapped. */
import { perThread } from '../shared.js';

// Once per thread, however many copies of the package load (see shared.ts): the first copy's wrappers
// serve them all (they read the policy from the addon and the scopes from the thread's one registry), so
// wrappers never stack. `loaded`: tethered is at work (activated, or a scope made) in some copy.
export const wrappers = perThread('wrappers', () => ({ installed: false, loaded: false, workers: false }));

export type Method = (this: unknown, ...args: unknown[]) => unknown;

/** A method of a prototype, to wrap. */
export function methodOf(proto: object, name: string): Method {
    const fn: unknown = Reflect.get(proto, name);
    if (typeof fn !== 'function') throw new Error(`tethered: cannot wrap ${name}, it is not a function in this Node.js`);
    return fn as Method;
}
