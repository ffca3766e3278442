// Which prebuilt binaries a machine gets, and what a machine with none is told. The C library is detected
// from the objects mapped into the process (/proc/self/maps) or Node's report header; both are passed in
// here, so that a musl machine (Alpine), which this one is not, can be stood in for: the detection and the
// choice are pure functions of them. On the real process they must agree with Node's own report.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';

const require = createRequire(import.meta.url);
const { detectLibc, findAddon } = require('../../dist/native.js');

// The mappings of node on Alpine 3.20 (musl: the loader is libc) and on Debian 12 (glibc), trimmed.
const ALPINE_MAPS = [
    '5581c4a00000-5581c4e00000 r--p 00000000 00:2f 1234 /usr/bin/node',
    '7f0c1a000000-7f0c1a014000 r--p 00000000 00:2f 2345 /usr/lib/libstdc++.so.6.0.33',
    '7f0c1a200000-7f0c1a214000 r--p 00000000 00:2f 3456 /lib/ld-musl-x86_64.so.1',
    '7ffd2a000000-7ffd2a021000 rw-p 00000000 00:00 0 [stack]',
].join('\n');
const DEBIAN_MAPS = [
    '5581c4a00000-5581c4e00000 r--p 00000000 00:2f 1234 /usr/bin/node',
    '7f0c1a000000-7f0c1a028000 r--p 00000000 00:2f 2345 /usr/lib/x86_64-linux-gnu/libc.so.6',
    '7f0c1a200000-7f0c1a201000 r--p 00000000 00:2f 3456 /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
].join('\n');
const noReport = () => assert.fail('the report is read only when the mappings do not tell');

/** A package directory holding only the prebuilds named (empty .node files: nothing is loaded here). */
function packageWith(...dirs) {
    const root = mkdtempSync(join(tmpdir(), 'tethered-libc-'));
    for (const d of dirs) {
        mkdirSync(join(root, 'prebuilds', d), { recursive: true });
        writeFileSync(join(root, 'prebuilds', d, 'tethered.node'), '');
    }
    return root;
}

describe('C library detection and the choice of prebuilt binaries', () => {
    test('musl is recognised by its loader in the mappings, glibc by libc.so.6, without the costly report', () => {
        assert.equal(detectLibc(ALPINE_MAPS, noReport), 'musl');
        assert.equal(detectLibc(DEBIAN_MAPS, noReport), 'glibc');
    });

    test('without telling mappings, a report header with no glibc version means musl', () => {
        assert.equal(detectLibc(null, () => ({})), 'musl');
        assert.equal(detectLibc('', () => ({ glibcVersionRuntime: '2.28' })), 'glibc');
    });

    test('this process is glibc, as both its mappings and Node\'s report say', () => {
        assert.equal(process.report.getReport().header.glibcVersionRuntime !== undefined, true);
        assert.equal(detectLibc(), 'glibc');
        assert.equal(detectLibc(null), 'glibc');
    });

    test('a glibc machine gets prebuilds/linux-<arch>/', () => {
        const root = packageWith('linux-x64', 'linux-arm64');
        assert.equal(findAddon(root, 'linux', 'x64', () => 'glibc'), join(root, 'prebuilds', 'linux-x64', 'tethered.node'));
        assert.equal(findAddon(root, 'linux', 'arm64', () => 'glibc'), join(root, 'prebuilds', 'linux-arm64', 'tethered.node'));
    });

    test('a musl machine is refused the glibc prebuilds with a message naming the way out: a glibc base image', () => {
        const root = packageWith('linux-x64', 'linux-arm64');
        assert.throws(() => findAddon(root, 'linux', 'x64', () => 'musl'), (e) => {
            assert.match(e.message, /no prebuilt binaries for linux-x64 \(musl libc\)/);
            assert.match(e.message, /glibc 2\.28 or later/);
            assert.match(e.message, /node:20-bookworm-slim in place of node:20-alpine/);
            return true;
        });
    });

    test('a musl machine takes a musl prebuild where the package has one (prebuilds/linux-<arch>-musl/)', () => {
        const root = packageWith('linux-x64', 'linux-x64-musl');
        assert.equal(findAddon(root, 'linux', 'x64', () => 'musl'), join(root, 'prebuilds', 'linux-x64-musl', 'tethered.node'));
    });

    test('an architecture with no prebuild is told the exact command that builds from source', () => {
        const root = packageWith('linux-x64', 'linux-arm64');
        assert.throws(() => findAddon(root, 'linux', 'riscv64', () => 'glibc'), (e) => {
            assert.match(e.message, /no prebuilt binaries for linux-riscv64 /);
            assert.ok(e.message.includes(`npm install --no-save node-addon-api && npm run build:native --prefix ${root}`), e.message);
            return true;
        });
    });

    test('a build from source (build/Release) is taken before any prebuild, unless PREBUILDS_ONLY is set', () => {
        const root = packageWith('linux-x64');
        mkdirSync(join(root, 'build', 'Release'), { recursive: true });
        writeFileSync(join(root, 'build', 'Release', 'tethered.node'), '');
        assert.equal(findAddon(root, 'linux', 'x64', () => 'glibc'), join(root, 'build', 'Release', 'tethered.node'));
        process.env.PREBUILDS_ONLY = '1';
        try {
            assert.equal(findAddon(root, 'linux', 'x64', () => 'glibc'), join(root, 'prebuilds', 'linux-x64', 'tethered.node'));
        } finally {
            delete process.env.PREBUILDS_ONLY;
        }
    });
});
