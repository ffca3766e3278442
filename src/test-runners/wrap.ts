/**
 * What the test-runner helpers share: running one test's function inside noEgress(), so that the test
 * fails with EgressViolation, listing every attempt that was not allowed — also those the test caught and
 * swallowed — the way nock's disableNetConnect() or msw's onUnhandledRequest: 'error' fail a test.
 * A scope is per async call tree of one thread: tests of other files running in other workers, or
 * concurrently in this one, keep their own.
 */
import { noEgress, type NoEgressOptions } from '../scope.js';

export type TestFn = (this: unknown, ...args: unknown[]) => unknown;

/** Options for every test (default: no egress but localhost). */
let defaults: NoEgressOptions = {};

export function setDefaults(options: NoEgressOptions): void {
    if (typeof options !== 'object' || options === null) throw new TypeError('tethered: the test helpers take an options object like noEgress()');
    defaults = { ...options };
}

/** `fn` run inside noEgress({ label }); a done-callback function (`takesDone`) is turned into a promise. */
export function inNoEgress(fn: TestFn, label: string, takesDone: boolean): TestFn {
    return function (this: unknown, ...args: unknown[]): Promise<unknown> {
        const options = { ...defaults, label: defaults.label ?? label };
        if (!takesDone) return noEgress(options, () => fn.apply(this, args));
        return noEgress(options, () => new Promise((resolve, reject) => {
            fn.apply(this, [...args, (err?: unknown) => { if (err) reject(err instanceof Error ? err : new Error('the test failed through its callback', { cause: err })); else resolve(undefined); }]);
        }));
    };
}

export function currentDefaults(): NoEgressOptions {
    return defaults;
}
