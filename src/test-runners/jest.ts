/**
 * Jest (jest-circus, the default runner): `setupFilesAfterEnv: ['tethered/jest']` runs every test inside
 * noEgress(): a test that makes a request that is not allowed fails with the attempts listed, even when it
 * caught the error. Options: `require('tethered/jest').configure({ allow: [...] })` in a setup file of
 * your own, after this one.
 *
 * Jest evaluates this file once per test file, in that file's realm. It registers a root beforeEach that
 * wraps the function of the test about to run (circus reads `test.fn` after the beforeEach hooks), so
 * tests are wrapped whether they were declared with the global `test`/`it` or from '@jest/globals'.
 */
import { inNoEgress, setDefaults, type TestFn } from './wrap.js';

export { setDefaults as configure };

interface CircusTest {
    name: string;
    fn?: TestFn;
    [kWrapped]?: true;
}

const kWrapped = Symbol.for('tethered.jest.wrapped');

/** jest-circus keeps its state on the global under a symbol of its own (not registered: found by description). */
function runningTest(): CircusTest | null {
    const g = globalThis as unknown as Record<symbol, unknown>;
    const key = Object.getOwnPropertySymbols(g).find((s) => s.description === 'JEST_STATE_SYMBOL');
    const state = key === undefined ? undefined : (g[key] as { currentlyRunningTest?: CircusTest | null } | undefined);
    return state?.currentlyRunningTest ?? null;
}

export function install(): void {
    const g = globalThis as unknown as Record<string | symbol, unknown>;
    if (g[kWrapped]) return;
    const beforeEach = g.beforeEach;
    if (typeof beforeEach !== 'function') throw new Error("tethered/jest: no beforeEach here; use it as a Jest setup file (setupFilesAfterEnv: ['tethered/jest'])");
    if (!Object.getOwnPropertySymbols(g).some((s) => s.description === 'JEST_STATE_SYMBOL')) {
        throw new Error('tethered/jest: this Jest does not run tests with jest-circus; wrap tests with noEgress() yourself');
    }
    g[kWrapped] = true;
    (beforeEach as (fn: () => void) => void)(() => {
        const test = runningTest();
        if (!test?.fn || test[kWrapped]) return;
        test.fn = inNoEgress(test.fn, test.name, test.fn.length > 0);
        test[kWrapped] = true;
    });
}

install();
