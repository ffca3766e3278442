// The oldest machines the shipped binaries load on: every symbol version the addon, libtethered.so and
// tethered-strict need is at most GLIBC_2.28 (GLIBCXX_3.4.25 / CXXABI_1.3.11 for the addon's libstdc++),
// whatever glibc built them. Read from the binaries themselves (scripts/glibc-baseline.mjs), so that a new
// libc call at a newer version fails here instead of on a user's RHEL 8 or Debian 10 machine.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BASELINE, aboveBaseline, dynamicNeeds, highest, symbolVersions } from '../../scripts/glibc-baseline.mjs';
import { root } from '../helpers/cbuild.mjs';

const BINARIES = ['tethered.node', 'libtethered.so', 'tethered-strict'];

/** The build the tests use, and every prebuilt platform present (prebuilds/linux-x64, prebuilds/linux-arm64 …). */
function binaryDirs() {
    const dirs = [join(root, 'build', 'Release')];
    const prebuilds = join(root, 'prebuilds');
    if (existsSync(prebuilds)) for (const d of readdirSync(prebuilds, { withFileTypes: true })) if (d.isDirectory()) dirs.push(join(prebuilds, d.name));
    return dirs;
}

function addonIn(dir) {
    return readdirSync(dir).find((f) => f.endsWith('.node'));
}

const hostGlibc = process.report.getReport().header.glibcVersionRuntime;

describe('glibc 2.28 baseline', () => {
    for (const dir of binaryDirs()) {
        const where = dir.slice(root.length);
        for (const name of BINARIES) {
            const file = name === 'tethered.node' ? (addonIn(dir) ?? name) : name;
            test(`${where}/${file} needs no symbol version above GLIBC_${BASELINE.GLIBC}, GLIBCXX_${BASELINE.GLIBCXX}, CXXABI_${BASELINE.CXXABI}`, (t) => {
                const path = join(dir, file);
                assert.ok(existsSync(path), `${path} is missing`);
                assert.deepEqual(aboveBaseline(path), []);
                const top = highest(symbolVersions(path));
                t.diagnostic(`${where}/${file}: ${Object.entries(top).map(([f, v]) => `${f}_${v}`).join(' ') || 'no versioned symbols (static)'}`);
            });
        }

        test(`${where}: libtethered.so and the addon link libdl.so.2 (and the shim libpthread.so.0), where the pinned versions live before glibc 2.34`, () => {
            assert.ok(dynamicNeeds(join(dir, 'libtethered.so')).needed.includes('libdl.so.2'));
            assert.ok(dynamicNeeds(join(dir, 'libtethered.so')).needed.includes('libpthread.so.0'));
            const addon = addonIn(dir);
            assert.ok(addon, `no addon in ${dir}`);
            assert.ok(dynamicNeeds(join(dir, addon)).needed.includes('libdl.so.2'));
        });

        test(`${where}: tethered-strict is static (no loader, no shared library: nothing to version)`, () => {
            const { needed, interpreter } = dynamicNeeds(join(dir, 'tethered-strict'));
            assert.deepEqual(needed, []);
            assert.equal(interpreter, false);
        });
    }

    test('the check catches a library built without the pins (positive control)', { skip: !hostGlibc || hostGlibc < '2.34' ? `the build machine's glibc (${hostGlibc}) predates the 2.34 versions` : false }, () => {
        // The same calls the shim makes, compiled once plainly and once with the forced header.
        const dir = mkdtempSync(join(tmpdir(), 'tethered-baseline-'));
        const source = join(dir, 'calls.c');
        writeFileSync(source, [
            '#include <dlfcn.h>', '#include <pthread.h>', '#include <sys/stat.h>', '#include <unistd.h>',
            'static void *run(void *a) { return a; }',
            'int calls(void) { pthread_t t; Dl_info i; struct stat st;',
            '  pthread_create(&t, 0, run, 0); pthread_detach(t); dladdr((void *)calls, &i);',
            '  return fstat(0, &st) + (int)gettid(); }', ''].join('\n'));
        const build = (out, extra) => {
            execFileSync('gcc', ['-std=c11', '-D_GNU_SOURCE', '-D_FILE_OFFSET_BITS=64', '-shared', '-fPIC', '-o', join(dir, out), ...extra, source, '-lpthread', '-ldl']);
            return join(dir, out);
        };
        const plain = aboveBaseline(build('plain.so', []));
        for (const call of ['pthread_create@GLIBC_2.34', 'dladdr@GLIBC_2.34', 'fstat64@GLIBC_2.33', 'gettid@GLIBC_2.30']) assert.ok(plain.includes(call), `${call} not flagged: ${plain}`);
        const pinned = aboveBaseline(build('pinned.so', ['-I', join(root, 'native', 'compat'), '-include', 'glibc_baseline.h', join(root, 'native', 'compat', 'glibc_compat.c')]));
        assert.deepEqual(pinned, []);
    });
});
