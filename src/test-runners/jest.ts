/**
 * Jest: `setupFilesAfterEnv: ['tethered/jest']` runs every test inside noEgress(): a test that makes a
 * request that is not allowed fails with the attempts listed, even when it caught the error. Options:
 * `require('tethered/jest').configure({ allow: [...] })` in a setup file of your own.
 *
 * Jest evaluates this file once per test file, in that file's realm: it wraps that file's `test` and `it`.
 */
import { inNoEgress, setDefaults, type TestFn } from './wrap.js';

export { setDefaults as configure };

type Registrar = ((name: unknown, fn?: unknown, timeout?: unknown) => unknown) & Record<string, unknown>;

const kWrapped = Symbol.for('tethered.jest.wrapped');

function titleOf(name: unknown): string {
    return typeof name === 'string' ? name : typeof name === 'function' ? name.name : String(name);
}

/** test(name, fn, timeout) with fn run inside noEgress(); `each` rows are passed through. */
function wrapRegistrar(original: Registrar, fromEach: boolean): Registrar {
    const wrapped = function (this: unknown, name: unknown, fn?: unknown, timeout?: unknown): unknown {
        if (typeof fn !== 'function') return original.call(this, name, fn, timeout);
        const f = fn as TestFn;
        return original.call(this, name, inNoEgress(f, titleOf(name), !fromEach && f.length > 0), timeout);
    } as Registrar;
    for (const key of Object.keys(original)) {
        const value = original[key];
        if (key === 'each' && typeof value === 'function') {
            wrapped.each = (...table: unknown[]) => wrapRegistrar((value as (...t: unknown[]) => Registrar)(...table), true);
        } else if ((key === 'only' || key === 'concurrent' || key === 'failing') && typeof value === 'function') {
            wrapped[key] = wrapRegistrar(value as Registrar, fromEach);
        } else {
            wrapped[key] = value;
        }
    }
    return wrapped;
}

export function install(): void {
    const g = globalThis as unknown as Record<string | symbol, unknown>;
    if (g[kWrapped]) return;
    for (const name of ['test', 'it']) {
        const original = g[name];
        if (typeof original === 'function') g[name] = wrapRegistrar(original as Registrar, false);
    }
    g[kWrapped] = true;
}

install();
