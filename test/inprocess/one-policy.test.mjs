// One process, one policy (SPEC section 5): every copy of tethered's JavaScript in a process — a cleared
// require.cache (what Jest's per-file module registry amounts to), a second install at another path, ESM
// beside CJS, a module evaluated in a vm realm, a worker thread — reads and changes the one policy the
// native layer holds. Each scenario locks a policy with copy A, then from copy B: status() tells the truth,
// deactivate() and activate() without the token throw TetheredLocked, a blocked connect stays blocked (the
// peer sees nothing). The control in each: copy B with the very token does lift it, and the peer then sees
// the connection, so the test would notice a copy that could not act on the state at all.
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { root, serve, tcpServer } from '../helpers/shim.mjs';

/** A second install of the built package at another path (dist, the native build, package.json). */
function secondInstall() {
    const dir = join(mkdtempSync(join(tmpdir(), 'tethered-copy-')), 'node_modules', 'tethered');
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    for (const f of ['tethered.node', 'libtethered.so']) copyFileSync(join(root, 'build', 'Release', f), join(dir, 'build', 'Release', f));
    copyFileSync(join(root, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    return dir;
}

async function attempt(server, body) {
    const before = server.connections;
    const r = await inFreshNode(body);
    await sleep(100); // let the peer's accept events run
    assert.equal(r.code, 0, r.stderr);
    return { results: r.results, reached: server.connections - before };
}

// What copy `b` sees and can do while copy `t` holds a locked policy that allows nothing; then `b` lifts it
// with the token (the control) and connects. `B` is the expression for copy B.
const probe = (port, B) => `
    const token = {};
    t.activate({ allow: ['locked.example.test'], allowLocalhost: false, locked: true, lockToken: token });
    const b = ${B};
    const code = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code; } };
    const s = b.status();
    print({ active: s.active, mode: s.mode, locked: s.locked, allow: s.rules.allow });
    print([code(() => b.deactivate()), code(() => b.activate({ allow: ['127.0.0.2'] })), code(() => b.deactivate({ lockToken: {} }))]);
    print([await connectJs('127.0.0.2', ${port}), addon.connectTo('127.0.0.2', ${port})]);
    print(t.status().rules.allow);
    print(code(() => b.deactivate({ lockToken: token })));
    print([t.status().active, b.status().active, await connectJs('127.0.0.2', ${port})]);
`;

const LOCKED_VIEW = { active: true, mode: 'enforce', locked: true, allow: ['locked.example.test'] };
const REFUSED = ['ERR_TETHERED_LOCKED', 'ERR_TETHERED_LOCKED', 'ERR_TETHERED_LOCKED'];

describe('one process, one policy: every copy of the JavaScript acts on the one native state', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2') });

    function check(r) {
        assert.deepEqual(r.results, [LOCKED_VIEW, REFUSED, ['ERR_EGRESS_BLOCKED', 13], ['locked.example.test'], 'ok', [false, false, 'ok']]);
        assert.equal(r.reached, 1, 'only the connect after the token lifted the lock reaches the peer');
    }

    test('a cleared require.cache (a test runner\'s fresh module registry) sees the lock and cannot lift it without the token', async () => {
        check(await attempt(s.tcp, probe(s.tcp.port, `(() => { for (const k of Object.keys(require.cache)) delete require.cache[k]; const fresh = require(${JSON.stringify(root)}); if (fresh === t) throw new Error('not a fresh copy'); return fresh; })()`)));
    });

    test('a second install of the package at another path drives the same shim and addon state', async () => {
        const copy = secondInstall();
        check(await attempt(s.tcp, probe(s.tcp.port, `(() => { const c = require(${JSON.stringify(copy)}); if (c === t) throw new Error('not a second copy'); print(c.shimPath() === t.shimPath()); return c; })()`)).then((r) => {
            assert.equal(r.results.shift(), true, 'the second install uses the shim already in the process');
            return r;
        }));
    });

    test('ESM and CJS are one instance', async () => {
        check(await attempt(s.tcp, probe(s.tcp.port, `await import(${JSON.stringify(join(root, 'dist', 'index.mjs'))})`)));
    });

    test('a copy evaluated in a vm realm (as Jest and Vitest vmThreads run modules) sees and keeps the lock', async () => {
        // A small module loader that evaluates tethered's files in a new context, as Jest does: builtins and
        // the addon come from the real require, tethered's own modules are compiled in the realm.
        check(await attempt(s.tcp, probe(s.tcp.port, `(() => {
            const vm = require('node:vm'); const path = require('node:path'); const fs = require('node:fs');
            const context = vm.createContext({ process, console, Buffer, URL, setTimeout, setImmediate, queueMicrotask });
            const cache = new Map();
            const load = (file) => {
                if (cache.has(file)) return cache.get(file).exports;
                const module = { exports: {} }; cache.set(file, module);
                const fn = vm.compileFunction(fs.readFileSync(file, 'utf8'), ['exports', 'require', 'module', '__filename', '__dirname'], { parsingContext: context });
                const dir = path.dirname(file);
                const req = (id) => id.startsWith('.') ? load(require.resolve(path.resolve(dir, id))) : require(require.resolve(id, { paths: [dir] }));
                fn.call(module.exports, module.exports, req, module, file, dir);
                return module.exports;
            };
            const copy = load(${JSON.stringify(join(root, 'dist', 'index.js'))});
            if (copy === t || vm.runInContext('Object', context) === Object) throw new Error('not another realm');
            return copy;
        })()`)));
    });

    test('a worker thread sees the lock, cannot lift or replace it without the token, and its connect is blocked', async () => {
        const r = await attempt(
            s.tcp,
            `const token = {};
            t.activate({ allow: ['locked.example.test'], allowLocalhost: false, locked: true, lockToken: token });
            const { Worker } = require('node:worker_threads');
            const w = new Worker(\`
                const { parentPort } = require('node:worker_threads');
                const b = require(${JSON.stringify(root)});
                const code = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code; } };
                const s = b.status();
                const out = [{ active: s.active, mode: s.mode, locked: s.locked, allow: s.rules.allow }];
                out.push([code(() => b.deactivate()), code(() => b.activate({ allow: ['127.0.0.2'] })), code(() => b.deactivate({ lockToken: {} }))]);
                require('node:net').connect(${s.tcp.port}, '127.0.0.2').on('connect', () => { out.push('connected'); parentPort.postMessage(out); }).on('error', (e) => { out.push(e.code); parentPort.postMessage(out); });
            \`, { eval: true });
            const [view, codes, connect] = await new Promise((resolve) => w.on('message', resolve));
            print(view); print(codes); print(connect);
            print(t.status().locked);
            t.deactivate({ lockToken: token });
            print([t.status().active, await connectJs('127.0.0.2', ${s.tcp.port})]);`,
        );
        assert.deepEqual(r.results, [LOCKED_VIEW, REFUSED, 'ERR_EGRESS_BLOCKED', true, [false, 'ok']]);
        assert.equal(r.reached, 1, 'only the connect after the lock was lifted reaches the peer');
    });

    test('a policy locked in a worker that has ended is still told and kept by the next worker and the main thread', async () => {
        // The main thread loads no addon: the worker that locked was the only one holding it.
        const r = await attempt(
            s.tcp,
            `const { Worker } = require('node:worker_threads');
            const inWorker = (code) => new Promise((resolve, reject) => {
                const w = new Worker(\`
                    const { parentPort } = require('node:worker_threads');
                    const t = require(${JSON.stringify(root)});
                    const net = require('node:net');
                    const code = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code; } };
                    const connect = () => new Promise((r) => net.connect(${s.tcp.port}, '127.0.0.2').on('connect', function () { this.destroy(); r('connected'); }).on('error', (e) => r(e.code)));
                    (async () => { \${code} })().then((x) => parentPort.postMessage(x));
                \`, { eval: true });
                w.on('message', resolve); w.on('error', reject);
            });
            print(await inWorker("const before = await connect(); t.activate({ allow: ['locked.example.test'], allowLocalhost: false, locked: true, lockToken: {} }); return before;"));
            print(await inWorker("const s = t.status(); return [s.active, s.locked, s.rules.allow, code(() => t.deactivate()), await connect()];"));
            const s = t.status();
            print([s.active, s.locked, s.rules.allow, (() => { try { t.deactivate(); return 'ok'; } catch (e) { return e.code; } })(), await connectJs('127.0.0.2', ${s.tcp.port})]);`,
        );
        assert.deepEqual(r.results, [
            'connected',
            [true, true, ['locked.example.test'], 'ERR_TETHERED_LOCKED', 'ERR_EGRESS_BLOCKED'],
            [true, true, ['locked.example.test'], 'ERR_TETHERED_LOCKED', 'ERR_EGRESS_BLOCKED'],
        ]);
        assert.equal(r.reached, 1, 'only the connect before the lock reaches the peer');
    });

    test('without a lock, a copy replaces and lifts the policy another copy put in force, and both report it', async () => {
        const r = await attempt(
            s.tcp,
            `t.activate({ allow: ['a.example.test'], allowLocalhost: false });
            for (const k of Object.keys(require.cache)) delete require.cache[k];
            const b = require(${JSON.stringify(root)});
            b.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            print([t.status().rules.allow, b.status().rules.allow, await connectJs('127.0.0.2', ${s.tcp.port})]);
            b.deactivate();
            print([t.status().active, b.status().active]);`,
        );
        assert.deepEqual(r.results, [[['127.0.0.2'], ['127.0.0.2'], 'ok'], [false, false]]);
        assert.equal(r.reached, 1);
    });

    test('the Node wrappers never stack: ten fresh copies activating leave one wrapper on net.Socket#connect', async () => {
        const r = await attempt(
            s.tcp,
            `const net = require('node:net');
            const original = net.Socket.prototype.connect;
            t.activate({ allow: [], allowLocalhost: false });
            const once = net.Socket.prototype.connect;
            for (let i = 0; i < 10; i++) {
                for (const k of Object.keys(require.cache)) delete require.cache[k];
                require(${JSON.stringify(root)}).activate({ allow: [], allowLocalhost: false });
            }
            print([once !== original, net.Socket.prototype.connect === once, await connectJs('127.0.0.2', ${s.tcp.port})]);`,
        );
        assert.deepEqual(r.results, [[true, true, 'ERR_EGRESS_BLOCKED']]);
        assert.equal(r.reached, 0, 'the blocked peer saw a connection');
    });
});
