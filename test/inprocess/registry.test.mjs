// hooks.def is the one registry of hooks (issue 9 item 8). In-process mode must redirect every name in it:
// a library that imports every hooked function (generated from hooks.def) is loaded before activate() and
// another after it, and each of its GOT entries must then point at the shim's hook, not at libc.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { buildC, root } from '../helpers/cbuild.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';

const registry = readFileSync(join(root, 'native/shim/hooks.def'), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
const NAMES = [...registry.matchAll(/^TD_(?:HOOK|FRONT)\((\w+)|^TD_ALIAS\((\w+)/gm)].map((m) => m[1] ?? m[2]);
// libc keeps this name for its own use (GLIBC_PRIVATE): no program can link against it, only dlsym() it
const LINKABLE = NAMES.filter((n) => n !== '__libc_system');

/** An addon whose addresses() returns, for each hooked name, the address its own GOT holds for it. */
function importer(tag) {
    const dir = join(root, 'build', 'test');
    mkdirSync(dir, { recursive: true });
    // the imports, in a file of their own: no system header may declare these names with their real types
    const imports = join(dir, `importer-${tag}-imports.c`);
    writeFileSync(
        imports,
        [
            ...LINKABLE.map((n) => `extern void ${n}(void);`),
            ...LINKABLE.map((n, i) => `static void *get_${i}(void) { return (void *)&${n}; }`),
            `const char *const importer_names[] = {${LINKABLE.map((n) => `"${n}"`).join(', ')}};`,
            `void *(*const importer_getters[])(void) = {${LINKABLE.map((_, i) => `get_${i}`).join(', ')}};`,
            `const unsigned importer_count = ${LINKABLE.length};`,
            '',
        ].join('\n'),
    );
    const file = join(root, 'test/native/c/importer.c');
    return buildC(`importer-${tag}`, [file, imports], { shared: true, suffix: '.node', includes: ['/usr/include/node'], optimize: '-O0' });
}

test('every hook in hooks.def is patched in-process, in objects loaded before and after activate()', async () => {
    const before = importer('before');
    const after = importer('after');
    const r = await inFreshNode(`
        const early = require(${JSON.stringify(before)});
        const unpatched = early.addresses();
        t.activate({ allow: ['127.0.0.2'] });
        const late = require(${JSON.stringify(after)});
        // the shim's own definition of each name (a handle on the shim finds its own symbol)
        const own = addon.shimSymbols(t.shimPath(), ${JSON.stringify(LINKABLE)});
        print({ unpatched, early: early.addresses(), late: late.addresses(), own });`);
    assert.equal(r.code, 0, r.stderr);
    const [{ unpatched, early, late, own }] = r.results;
    assert.equal(Object.keys(own).length, LINKABLE.length);
    // the control: before activate() the same entries led to libc, so the comparison below can fail
    for (const name of ['connect', 'sendto', 'getaddrinfo', 'execve', 'dlsym']) assert.notEqual(unpatched[name], own[name], name);
    for (const name of LINKABLE) {
        assert.notEqual(own[name], '0x0', `the shim exports ${name}`);
        assert.equal(early[name], own[name], `${name} in an object loaded before activate()`);
        assert.equal(late[name], own[name], `${name} in an object loaded after activate()`);
    }
});
