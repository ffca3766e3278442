// The two native artefacts as a user gets them: the addon loads, and libtethered.so is a library that can
// be preloaded into any program because it needs nothing beyond libc, libdl and libpthread.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { arch, platform, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { shimPath } from 'tethered';

const root = fileURLToPath(new URL('../..', import.meta.url));
const require = createRequire(import.meta.url);
const { nativeBinaries } = require('../../dist/native.js');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

function sh(cmd, args, env = {}) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
    if (r.error) throw r.error;
    return r;
}

describe('native binaries', () => {
    test('the addon loads and reports the ABI and version it was built with', () => {
        const { addon, addonPath } = nativeBinaries();
        assert.equal(addon.abi, 7);
        assert.equal(addon.version, pkg.version);
        assert.match(addonPath, /\.node$/);
    });

    test('the package has no install script and no runtime dependency: nothing runs or downloads at npm install', () => {
        assert.equal(pkg.scripts.install, undefined);
        assert.equal(pkg.scripts.preinstall, undefined);
        assert.equal(pkg.scripts.postinstall, undefined);
        // binding.gyp ships (a build from source is the fallback); without this npm would add "node-gyp rebuild"
        assert.equal(pkg.gypfile, false);
        assert.deepEqual(pkg.dependencies ?? {}, {});
    });

    test('libtethered.so sits beside the addon that was loaded', () => {
        const { addonPath } = nativeBinaries();
        assert.equal(shimPath(), join(addonPath, '..', 'libtethered.so'));
    });

    test('libtethered.so needs only libc, libdl and libpthread', () => {
        const dynamic = sh('readelf', ['-d', shimPath()]).stdout;
        const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]);
        for (const lib of needed) assert.match(lib, /^(libc|libdl|libpthread|ld-linux[-\w.]*)\.so/, `unexpected dependency ${lib}`);
        assert.doesNotMatch(dynamic, /libstdc\+\+|libgcc_s|libnode|libuv/);
    });

    test('libtethered.so exports its own symbols and the hooked libc functions, nothing else', () => {
        const symbols = sh('nm', ['-D', '--defined-only', shimPath()]).stdout.trim().split('\n');
        const names = new Set(symbols.map((l) => l.split(/\s+/).pop()));
        // hooks.def is the one registry of hooks: every name it lists (hooks, fronts, aliases) is exported
        const registry = readFileSync(join(root, 'native/shim/hooks.def'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
        const hooks = [...registry.matchAll(/^TD_(?:HOOK|FRONT)\((\w+)|^TD_ALIAS\((\w+)/gm)].map((m) => m[1] ?? m[2]);
        assert.ok(hooks.length > 60, `hooks.def lists ${hooks.length} names`);
        for (const name of ['connect', '__connect', 'sendmmsg', 'dlsym', 'execve', 'getaddrinfo', 'write', 'recvmsg']) assert.ok(hooks.includes(name), name);
        for (const hook of hooks) assert.ok(names.has(hook), `${hook} is not interposed`);
        for (const name of names) {
            assert.ok(hooks.includes(name) || /^(tethered_\w+|_init|_fini)$/.test(name), `unexpected export ${name}`);
        }
    });

    for (const [what, cmd, args] of [
        ['true', 'true', []],
        ['sh', 'sh', ['-c', 'echo ok']],
        ['node', process.execPath, ['-e', 'console.log("ok")']],
        ['python3', 'python3', ['-c', 'print("ok")']],
    ]) {
        test(`can be preloaded into ${what}`, () => {
            const r = sh(cmd, args, { LD_PRELOAD: shimPath() });
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stderr, '');
            if (args.length) assert.equal(r.stdout.trim(), 'ok');
        });
    }

    test('a package with only prebuilt binaries (no build directory, no install script, no dependencies) loads them', () => {
        // The layout npm gives a user who installed from the registry: dist/ and prebuilds/, nothing built.
        const pkgDir = join(mkdtempSync(join(tmpdir(), 'tethered-prebuilt-')), 'tethered');
        const prebuilds = join(pkgDir, 'prebuilds', `${platform()}-${arch()}`);
        mkdirSync(prebuilds, { recursive: true });
        cpSync(join(root, 'dist'), join(pkgDir, 'dist'), { recursive: true });
        cpSync(join(root, 'package.json'), join(pkgDir, 'package.json'));
        const { addonPath } = nativeBinaries();
        cpSync(addonPath, join(prebuilds, 'tethered.napi.node'));
        cpSync(join(addonPath, '..', 'libtethered.so'), join(prebuilds, 'libtethered.so'));
        // no node_modules: the package has no runtime dependency
        const r = sh(process.execPath, ['-e', 'const t = require(process.argv[1]); console.log(t.shimPath())', pkgDir]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout.trim(), join(prebuilds, 'libtethered.so'));
    });
});
