/**
 * node:test: `import { test, it, describe } from 'tethered/node-test'` in place of 'node:test' runs every
 * test inside noEgress(): a test that makes a request that is not allowed fails with the attempts
 * listed, even when it caught the error. `configure({ allow: [...] })` sets the rules for all tests.
 */
import nodeTest from 'node:test';
import { inNoEgress, setDefaults, type TestFn } from './wrap.js';

export { setDefaults as configure };
export { after, afterEach, before, beforeEach, describe, mock, suite } from 'node:test';

type Test = (...args: unknown[]) => unknown;

function wrapTest(original: Test): Test {
    return function (this: unknown, ...args: unknown[]): unknown {
        const at = args.findIndex((a) => typeof a === 'function');
        if (at >= 0) {
            const fn = args[at] as TestFn;
            const name = typeof args[0] === 'string' ? args[0] : fn.name;
            // (t, done): node:test passes a callback to a function of two parameters
            args[at] = inNoEgress(fn, name, fn.length >= 2);
        }
        return original.apply(this, args);
    };
}

export const test = wrapTest(nodeTest.test as Test);
export const it = wrapTest(nodeTest.it as Test);
