// scope() and noEgress(): the policy narrowed for an async call tree, on JavaScript and on native calls
// made on the JavaScript thread; noEgress() reporting every blocked attempt, swallowed ones included.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode, testAddon } from '../helpers/inprocess.mjs';
import { httpServer, serve, tcpServer } from '../helpers/shim.mjs';
import { dnsServer } from '../helpers/dns-server.mjs';
import { join } from 'node:path';
import { root } from '../helpers/cbuild.mjs';

const EACCES = 13;

describe('scope()', { skip: NEEDS_NETNS }, () => {
    // a: 127.0.0.2 (api.example.test), b: 127.0.0.3 (evil.example.test)
    const s = serve({ a: () => tcpServer('127.0.0.2'), b: () => tcpServer('127.0.0.3') });

    test('narrows native and JavaScript calls in a synchronous function, and only inside it', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const inside = t.scope({ allow: ['127.0.0.2'], label: 'only-a', allowLocalhost: false }, () => [addon.connectTo('127.0.0.2', ${s.a.port}), addon.connectTo('127.0.0.3', ${s.b.port}), addon.syscallConnect('127.0.0.3', ${s.b.port})]);
            print(inside);
            print(addon.connectTo('127.0.0.3', ${s.b.port}));
            print(await t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, () => connectJs('127.0.0.3', ${s.b.port})));
        `);
        assert.deepEqual(r.results, [[0, EACCES, EACCES], 0, 'ERR_EGRESS_BLOCKED'], r.stderr);
    });

    test('follows the async call tree: await, timers, promises, nextTick, setImmediate, event emitters', async () => {
        const r = await inFreshNode(`
            const { EventEmitter } = require('node:events');
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const native = () => addon.connectTo('127.0.0.3', ${s.b.port});
            const emitter = new EventEmitter();
            const results = await t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, async () => {
                const out = {};
                await null;
                out.await = native();
                out.timer = await new Promise((r) => setTimeout(() => r(native()), 5));
                out.then = await Promise.resolve().then(native);
                out.tick = await new Promise((r) => process.nextTick(() => r(native())));
                out.immediate = await new Promise((r) => setImmediate(() => r(native())));
                out.emitter = await new Promise((r) => { emitter.once('go', () => r(native())); setTimeout(() => emitter.emit('go'), 1); });
                out.js = await connectJs('127.0.0.3', ${s.b.port});
                out.allowed = addon.connectTo('127.0.0.2', ${s.a.port});
                return out;
            });
            print(results);
            print([native(), await connectJs('127.0.0.3', ${s.b.port})]);
        `);
        const E = EACCES;
        assert.deepEqual(r.results, [{ await: E, timer: E, then: E, tick: E, immediate: E, emitter: E, js: 'ERR_EGRESS_BLOCKED', allowed: 0 }, [0, 'ok']], r.stderr);
    });

    test('concurrent scopes interleaving on the one thread each keep their own rules', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const run = (allow, label) => t.scope({ allow: [allow], label, allowLocalhost: false }, async () => {
                const out = [];
                for (let i = 0; i < 5; i++) {
                    await new Promise((r) => setTimeout(r, 1 + (i % 2)));
                    out.push(addon.connectTo('127.0.0.2', ${s.a.port}), addon.connectTo('127.0.0.3', ${s.b.port}));
                }
                return out;
            });
            print(await Promise.all([run('127.0.0.2', 'a'), run('127.0.0.3', 'b')]));
        `);
        const E = EACCES;
        assert.deepEqual(r.results, [[[0, E, 0, E, 0, E, 0, E, 0, E], [E, 0, E, 0, E, 0, E, 0, E, 0]]], r.stderr);
    });

    test('one options object entered again and again: a change to its rules, label or allowLocalhost takes effect at the next scope(), and an enclosing scope still narrows it', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const seen = [];
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false, onBlocked: (e) => seen.push(e.scopeLabel) });
            const options = { allow: ['127.0.0.2'], label: 'first', allowLocalhost: false };
            const both = () => [addon.connectTo('127.0.0.2', ${s.a.port}), addon.connectTo('127.0.0.3', ${s.b.port})];
            print(t.scope(options, both));
            options.allow[0] = '127.0.0.3';           // the same array, changed in place
            options.label = 'second';
            print(t.scope(options, both));
            options.allow.push('127.0.0.2');          // longer
            print(t.scope(options, both));
            options.allow = ['127.0.0.2'];            // another array
            options.deny = ['127.0.0.2'];             // and a deny rule
            print(t.scope(options, both));
            delete options.deny;
            print(t.scope({ allow: ['127.0.0.3'], label: 'outer', allowLocalhost: false }, () => t.scope(options, both)));
            print(t.scope(options, both));
            await tick();
            print(seen);
            // what the first scope() checked is checked again once it changed
            const thrown = (f) => { try { f(); return 'ok'; } catch (e) { return e.name + ': ' + e.message.slice(0, 45); } };
            print(thrown(() => t.scope(options, 'not a function')));
            options.allow = '127.0.0.2';              // a string of the same length and first character
            print(thrown(() => t.scope(options, both)));
            options.allow = ['127.0.0.2'];
            options.alow = ['127.0.0.3'];             // an unknown key, with a change to what scope() reads
            options.label = 'third';
            print(thrown(() => t.scope(options, both)));
            delete options.alow;
            print(t.scope(options, both));
        `);
        assert.deepEqual(
            r.results,
            [
                [0, EACCES],
                [EACCES, 0],
                [0, 0],
                [EACCES, EACCES],
                [EACCES, EACCES],
                [0, EACCES],
                ['first', 'second', 'second', 'second', 'outer', 'second', 'second'],
                'TypeError: scope(): the second argument must be a functi',
                'TypeError: scope(): allow must be an array of rules',
                "TypeError: scope(): unknown option 'alow' — did you mean",
                [0, EACCES],
            ],
            r.stderr,
        );
    });

    // A TCP connect made through Node's TCP handle is told its scope by the JavaScript making it (the thread's
    // word: src/wrap/net.ts), not asked back. Shown with the one difference between the two: the source is
    // not asked while the thread's signal mask is not its usual one (as in a signal handler), so a native
    // connect is then judged by the policy in force alone, while the handle's connect still has its scope.
    test('a TCP connect and a UDP datagram are told their scope by the JavaScript making them: judged by it even where the shim would not ask (a changed signal mask), while a native connect or sendto there is not', async () => {
        const before = s.a.connections;
        const r = await inFreshNode(`
            const SIGUSR2 = 12;
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const onlyB = { allow: ['127.0.0.3'], label: 'only-b', allowLocalhost: false };
            print(await t.scope(onlyB, () => connectJs('127.0.0.2', ${s.a.port})));
            const dgram = require('node:dgram');
            const udp = (host, port) => new Promise((resolve) => {
                const u = dgram.createSocket('udp4');
                u.send('x', port, host, (e) => { u.close(); resolve(e ? e.code : 'ok'); });
            });
            print(await t.scope(onlyB, () => udp('127.0.0.2', 9)));
            print(addon.blockSignal(SIGUSR2, true));
            print(await t.scope(onlyB, () => connectJs('127.0.0.2', ${s.a.port})));
            print(await t.scope(onlyB, () => udp('127.0.0.2', 9)));
            print(t.scope(onlyB, () => addon.connectTo('127.0.0.2', ${s.a.port})));
            print(t.scope(onlyB, () => addon.udpSendto('127.0.0.2', 9)));
            print(addon.blockSignal(SIGUSR2, false));
            print(t.scope(onlyB, () => addon.connectTo('127.0.0.2', ${s.a.port})));
            print([await connectJs('127.0.0.2', ${s.a.port}), await udp('127.0.0.2', 9)]);
        `);
        // under the changed mask the refusals stand, and their events reach onBlocked through the shim's relay
        // (a thread off its usual mask may be in a signal handler, where the addon must not be entered), so
        // the errors are the bare EACCES
        assert.deepEqual(r.results, ['ERR_EGRESS_BLOCKED', 'ERR_EGRESS_BLOCKED', 0, 'EACCES', 'EACCES', 0, 0, 0, EACCES, ['ok', 'ok']], r.stderr);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(s.a.connections - before, 2, 'only the native connect under the changed mask and the one outside any scope reach the peer');
    });

    test('a scope entered inside a TCP connect (an async_hooks init callback runs there) judges the native calls made in it, not the connect\'s scope', async () => {
        const r = await inFreshNode(`
            const { createHook } = require('node:async_hooks');
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const onlyA = { allow: ['127.0.0.2'], allowLocalhost: false };
            print(t.scope(onlyA, () => addon.connectTo('127.0.0.3', ${s.b.port})));
            const seen = [];
            const hook = createHook({ init(id, type) { if (type === 'TCPCONNECTWRAP') seen.push(t.scope(onlyA, () => addon.connectTo('127.0.0.3', ${s.b.port}))); } }).enable();
            print(await connectJs('127.0.0.2', ${s.a.port}));
            print(await t.scope({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false }, () => connectJs('127.0.0.2', ${s.a.port})));
            hook.disable();
            print(seen);
        `);
        assert.deepEqual(r.results, [EACCES, 'ok', 'ok', [EACCES, EACCES]], r.stderr);
    });

    test('TCP connects alternating between scopes, no scope, and another copy of the package are each judged by their own scope', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const A = { allow: ['127.0.0.2'], allowLocalhost: false }, B = { allow: ['127.0.0.3'], allowLocalhost: false };
            const both = async () => [await connectJs('127.0.0.2', ${s.a.port}), await connectJs('127.0.0.3', ${s.b.port})];
            for (const k of Object.keys(require.cache)) delete require.cache[k];
            const other = require(${JSON.stringify(root)});
            if (other === t) throw new Error('not a fresh copy');
            const out = [];
            for (let i = 0; i < 2; i++) {
                out.push(await t.scope(A, both), await both(), await t.scope(B, both), await other.scope(A, both), await t.scope(B, () => t.scope(A, both)));
                out.push(await Promise.all([t.scope(A, both), t.scope(B, both)]));
            }
            print(out);
        `);
        const ok = 'ok', no = 'ERR_EGRESS_BLOCKED';
        const round = [[ok, no], [ok, ok], [no, ok], [ok, no], [no, no], [[ok, no], [no, ok]]];
        assert.deepEqual(r.results, [[...round, ...round]], r.stderr);
    });

    test('nested scopes only narrow: an inner scope cannot allow what an outer one does not', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const seen = [];
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false, onBlocked: (e) => seen.push(e.scopeLabel) });
            print(t.scope({ allow: ['127.0.0.2'], label: 'outer', allowLocalhost: false }, () => t.scope({ allow: ['127.0.0.2', '127.0.0.3'], label: 'inner', allowLocalhost: false }, () => [addon.connectTo('127.0.0.2', ${s.a.port}), addon.connectTo('127.0.0.3', ${s.b.port})])));
            print(t.scope({ allow: ['127.0.0.2', '127.0.0.3'], label: 'outer', allowLocalhost: false }, () => t.scope({ allow: ['127.0.0.3'], label: 'inner', allowLocalhost: false }, () => [addon.connectTo('127.0.0.2', ${s.a.port}), addon.connectTo('127.0.0.3', ${s.b.port})])));
            await tick();
            print(seen);
        `);
        assert.deepEqual(r.results, [[0, EACCES], [EACCES, 0], ['outer', 'inner']], r.stderr);
    });

    test('a scope never widens the policy in force, and a deny rule of either wins', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            print(t.scope({ allow: ['127.0.0.0/8'], allowLocalhost: false }, () => [addon.connectTo('127.0.0.2', ${s.a.port}), addon.connectTo('127.0.0.3', ${s.b.port})]));
            print(t.scope({ allow: ['127.0.0.0/8'], deny: ['127.0.0.2'], allowLocalhost: false }, () => addon.connectTo('127.0.0.2', ${s.a.port})));
        `);
        assert.deepEqual(r.results, [[0, EACCES], EACCES], r.stderr);
    });

    test('works without activate(): only the scope narrows, and nothing outside it is touched', async () => {
        const r = await inFreshNode(`
            print(t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, () => [addon.connectTo('127.0.0.2', ${s.a.port}), addon.connectTo('127.0.0.3', ${s.b.port})]));
            print([addon.connectTo('127.0.0.3', ${s.b.port}), await connectJs('127.0.0.3', ${s.b.port}), t.status().active]);
        `);
        assert.deepEqual(r.results, [[0, EACCES], [0, 'ok', false]], r.stderr);
    });

    test('judges names: a lookup the scope does not allow fails with EgressBlocked before it is sent', async () => {
        const r = await inFreshNode(`
            const dns = require('node:dns');
            t.activate({ allow: ['*.example.test'], allowLocalhost: false });
            const pick = (e) => e && [e.code, e.host, e.protocol, e.scopeLabel, e.rule];
            await t.scope({ allow: ['api.example.test:${s.a.port}'], label: 'api-only', allowLocalhost: false }, async () => {
                print(await connectJs('api.example.test', ${s.a.port}));
                print(await new Promise((r) => net.connect(${s.b.port}, 'evil.example.test').on('error', (e) => r(pick(e)))));
                print(await dns.promises.lookup('evil.example.test').then(() => 'resolved', pick));
                print(await new Promise((r) => dns.lookup('evil.example.test', (e) => r(pick(e)))));
                print(addon.resolveConnect('evil.example.test', ${s.b.port}));
                print(addon.resolveConnect('api.example.test', ${s.a.port}));
            });
        `);
        const refused = ['ERR_EGRESS_BLOCKED', 'evil.example.test', 'dns', 'api-only', 'evil.example.test'];
        assert.deepEqual(r.results, ['ok', refused, refused, refused, -4 /* EAI_FAIL */, 0], r.stderr);
    });

    test("judges the queries c-ares sends on the JavaScript thread (dns.resolve*) by the scope's name rules", async () => {
        const dns = await dnsServer({ 'dns.example.test': '127.0.0.2', 'evil.example.test': '127.0.0.3' });
        try {
            const r = await inFreshNode(`
                const dns = require('node:dns');
                const seen = [];
                t.activate({ allow: ['*.example.test'], allowLocalhost: false, onBlocked: (e) => seen.push([e.op, e.host, e.scopeLabel]) });
                const pick = (e) => [e.code, e.host, e.scopeLabel];
                await t.scope({ allow: ['dns.example.test'], allowLocalhost: false, label: 'resolver' }, async () => {
                    print(await dns.promises.resolve4('dns.example.test'));
                    print(await dns.promises.resolve4('evil.example.test').catch(pick));
                    print(await new Promise((r) => new dns.Resolver().resolve4('evil.example.test', (e, a) => r(e ? pick(e) : a))));
                });
                print(await dns.promises.resolve4('evil.example.test'));
                await tick();
                print(seen);
            `);
            assert.deepEqual(r.results, [
                ['127.0.0.2'],
                ['ERR_EGRESS_BLOCKED', 'evil.example.test', 'resolver'],
                ['ERR_EGRESS_BLOCKED', 'evil.example.test', 'resolver'],
                ['127.0.0.3'],
                [['send', 'evil.example.test', 'resolver'], ['send', 'evil.example.test', 'resolver']],
            ], r.stderr);
            assert.deepEqual(dns.questions.filter((q) => q === 'evil.example.test').length, 1, 'only the query outside the scope reached the server');
        } finally {
            await dns.close();
        }
    });

    test('in log-only mode a scope reports would-block and lets the attempt through', async () => {
        const r = await inFreshNode(`
            const seen = [];
            t.activate({ allow: ['127.0.0.0/8'], allowLocalhost: false, logOnly: true, onBlocked: (e) => seen.push([e.decision, e.scopeLabel]) });
            print(t.scope({ allow: ['127.0.0.2'], label: 'narrow', allowLocalhost: false }, () => addon.connectTo('127.0.0.3', ${s.b.port})));
            await tick();
            print(seen);
        `);
        assert.deepEqual(r.results, [0, [['would-block', 'narrow']]], r.stderr);
    });

    test('installs no async hook: a native call after an await is judged by the scope all the same', async () => {
        const r = await inFreshNode(`
            // scopes once told the shim on every callback through an async hook; now the shim asks when it judges
            const asyncHooks = require('node:async_hooks');
            const made = [];
            const createHook = asyncHooks.createHook;
            asyncHooks.createHook = (hooks) => { made.push(Object.keys(hooks).sort()); return createHook(hooks); };
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            print(await t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, async () => {
                await new Promise((r) => setTimeout(r, 1));
                return [addon.connectTo('127.0.0.3', ${s.b.port}), addon.connectTo('127.0.0.2', ${s.a.port})];
            }));
            print(addon.connectTo('127.0.0.3', ${s.b.port}));
            print(made);
        `);
        assert.deepEqual(r.results, [[EACCES, 0], 0, []], r.stderr);
    });

    test("a worker's scope narrows that worker's native calls, after an await too, and nothing on the main thread", async () => {
        const worker = `
            const t = require(${JSON.stringify(root)});
            const addon = require(${JSON.stringify(testAddon())});
            const { parentPort } = require('node:worker_threads');
            t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, async () => {
                await new Promise((r) => setTimeout(r, 1));
                return addon.connectTo('127.0.0.3', ${s.b.port});
            }).then((inside) => parentPort.postMessage([inside, addon.connectTo('127.0.0.3', ${s.b.port})]));`;
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const { Worker } = require('node:worker_threads');
            const w = new Worker(${JSON.stringify(worker)}, { eval: true });
            const [inWorker] = await require('node:events').once(w, 'message');
            print(inWorker);
            print(addon.connectTo('127.0.0.3', ${s.b.port}));
            print(await t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, () => addon.connectTo('127.0.0.3', ${s.b.port})));
        `);
        assert.deepEqual(r.results, [[EACCES, 0], 0, EACCES], r.stderr);
    });

    test('a nested scope made while AsyncLocalStorage.prototype.getStore is replaced still nests in the one around it (the getStore taken at load reads the parent)', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const { AsyncLocalStorage } = require('node:async_hooks');
            const to = () => addon.connectTo('127.0.0.3', ${s.b.port});
            print(await t.scope({ allow: ['127.0.0.2'], allowLocalhost: false, label: 'outer' }, async () => {
                const honest = t.scope({ allow: ['127.0.0.3'], allowLocalhost: false }, to);
                const original = AsyncLocalStorage.prototype.getStore;
                AsyncLocalStorage.prototype.getStore = function () { return undefined; };
                let patched;
                try { patched = t.scope({ allow: ['127.0.0.3'], allowLocalhost: false }, to); } finally { AsyncLocalStorage.prototype.getStore = original; }
                return [honest, patched];
            }));
            print(t.scope({ allow: ['127.0.0.3'], allowLocalhost: false }, to)); // control: alone, that scope allows it
        `);
        assert.deepEqual(r.results, [[EACCES, EACCES], 0], r.stderr);
    });

    test("code inside a scope cannot leave it by registering a scope source of its own: the thread's first source stays", async () => {
        const connectionsBefore = s.b.connections;
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const native = require(${JSON.stringify(join(root, 'build', 'Release', 'tethered.node'))});
            const to = () => addon.connectTo('127.0.0.3', ${s.b.port});
            print(await t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, async () => {
                native.scopeSource(() => null);
                await tick();
                return to();
            }));
            print(to()); // control: outside the scope the same connect is allowed
        `);
        assert.deepEqual(r.results, [EACCES, 0], r.stderr);
        await new Promise((resolve) => setTimeout(resolve, 50));
        assert.equal(s.b.connections - connectionsBefore, 1, 'only the connect outside the scope reached the peer');
    });

    for (const [kind, source] of [
        ['an object that is not a scope', '() => ({ native: 1 })'],
        ['a number', '() => 0x41414141'],
        ['a function that throws', "() => { throw new Error('source failed'); }"],
    ]) {
        test(`a scope source registered before the package loads that answers ${kind} is no scope to the shim (scopes narrow cooperative code only: docs/SECURITY.md), and nothing crashes`, async () => {
            const connectionsBefore = s.b.connections;
            const r = await inFreshNode(`
                const native = require(${JSON.stringify(join(root, 'build', 'Release', 'tethered.node'))});
                native.load(t.shimPath());
                native.scopeSource(${source});
                t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
                // inside a scope, so that the shim asks the (forged) source when it judges the connect
                print(await t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, () => addon.connectTo('127.0.0.3', ${s.b.port})));
            `);
            assert.deepEqual(r.results, [0], r.stderr);
            assert.equal(r.code, 0, r.stderr);
            await new Promise((resolve) => setTimeout(resolve, 50));
            assert.equal(s.b.connections - connectionsBefore, 1);
        });
    }

    test('checks its arguments and its rules', async () => {
        const r = await inFreshNode(`
            const attempt = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.name; } };
            print([
                attempt(() => t.scope({}, () => 1)),
                attempt(() => t.scope({ allow: ['127.0.0.2'], allowLocalhost: false })),
                attempt(() => t.scope({ allow: ['https://x.test'], allowLocalhost: false }, () => 1)),
                attempt(() => t.scope({ allow: [], label: 3, allowLocalhost: false }, () => 1)),
                t.scope({ allow: [], allowLocalhost: false }, () => 42),
            ]);
        `);
        assert.deepEqual(r.results, [['TypeError', 'TypeError', 'InvalidRuleError', 'TypeError', 42]], r.stderr);
    });
});

describe('noEgress()', { skip: NEEDS_NETNS }, () => {
    const s = serve({ a: () => tcpServer('127.0.0.2'), web: () => httpServer('127.0.0.2') });

    test("resolves with fn's value when nothing was blocked (localhost is allowed by default)", async () => {
        const r = await inFreshNode(`
            print(await t.noEgress({}, async () => { await connectJs('127.0.0.2', ${s.a.port}); return 'value'; }));
            print(await t.noEgress({ allow: ['127.0.0.2'], allowLocalhost: false }, () => addon.connectTo('127.0.0.2', ${s.a.port})));
        `);
        assert.deepEqual(r.results, ['value', 0], r.stderr);
    });

    test('rejects with EgressViolation listing every blocked attempt, swallowed ones included, with evidence', async () => {
        const r = await inFreshNode(`
            const http = require('node:http');
            const dns = require('node:dns');
            try {
                await t.noEgress({ allowLocalhost: false, label: 'tool-call' }, async () => {
                    try { await new Promise((res, rej) => http.get('http://api.example.test:${s.web.port}/path?q=1', res).on('error', rej)); } catch {}
                    addon.connectTo('127.0.0.2', ${s.a.port});
                    await dns.promises.lookup('other.example.test').catch(() => {});
                    await fetch('http://127.0.0.2:${s.web.port}/f').catch(() => {});
                    return 'swallowed everything';
                });
                print('resolved');
            } catch (e) {
                print([e.name, e.code, e.scopeLabel, e.events.length]);
                print(e.events.map((x) => [x.decision, x.protocol, x.host, x.ip, x.port, x.scopeLabel]));
                print(e.events.map((x) => [x.url ?? null, typeof x.stack === 'string' && x.stack.includes('[eval]'), Array.isArray(x.nativeStack) && x.nativeStack.length > 0]));
                print(e.message.split('\\n')[0]);
            }
        `);
        assert.equal(r.code, 0, r.stderr);
        const [head, events, evidence, message] = r.results;
        assert.deepEqual(head, ['EgressViolation', 'ERR_EGRESS_VIOLATION', 'tool-call', 4]);
        assert.deepEqual(events, [
            ['block', 'dns', 'api.example.test', null, null, 'tool-call'],
            ['block', 'tcp', null, '127.0.0.2', s.a.port, 'tool-call'],
            ['block', 'dns', 'other.example.test', null, null, 'tool-call'],
            ['block', 'tcp', null, '127.0.0.2', s.web.port, 'tool-call'],
        ]);
        // URL where known; the JavaScript stack reaches the caller's own code; native frames for native calls.
        assert.deepEqual(evidence[0], [null, true, false]);
        assert.deepEqual(evidence[1], [null, false, true]);
        assert.deepEqual(evidence[3], [`http://127.0.0.2:${s.web.port}/f`, true, true]);
        assert.equal(message, "tethered: 4 network attempts were not allowed inside 'tool-call':");
    });

    test('onBlocked payloads: every field, the URL of an http request and the caller stack', async () => {
        const r = await inFreshNode(`
            const http = require('node:http');
            const seen = [];
            t.activate({ allow: [], allowLocalhost: false, onBlocked: (e) => seen.push(e) });
            const err = await new Promise((res) => http.get('http://127.0.0.2:${s.web.port}/a/b?c=d', () => res(null)).on('error', res));
            await tick();
            print([err.code, err.event.url, seen.length, seen[0].url, seen[0].stack.includes('[eval]'), seen[0].seq === err.event.seq]);
            const { time, stack, nativeStack, seq, ...rest } = seen[0];
            print([typeof time, typeof stack, Array.isArray(nativeStack), typeof seq, rest]);
        `);
        const url = `http://127.0.0.2:${s.web.port}/a/b?c=d`;
        assert.deepEqual(r.results[0], ['ERR_EGRESS_BLOCKED', url, 1, url, true, true], r.stderr);
        const [types, rest] = [r.results[1].slice(0, 4), r.results[1][4]];
        assert.deepEqual(types, ['string', 'string', true, 'number']);
        assert.deepEqual(Object.keys(rest).sort(), ['decision', 'exe', 'host', 'ip', 'op', 'pid', 'port', 'protocol', 'reason', 'rule', 'scopeLabel', 'tid', 'url']);
        assert.deepEqual({ ...rest, pid: 0, tid: 0 }, { decision: 'block', exe: process.execPath, host: null, ip: '127.0.0.2', op: 'connect', pid: 0, port: s.web.port, protocol: 'tcp', reason: 'no-rule', rule: `127.0.0.2:${s.web.port}`, scopeLabel: null, tid: 0, url });
    });

    test("an error fn throws is the violation's cause; a synchronous fn works too", async () => {
        const r = await inFreshNode(`
            const outcome = (p) => p.then((v) => ['value', v], (e) => [e.name, e.cause ? e.cause.message ?? e.cause.code : null]);
            print(await outcome(t.noEgress({ allowLocalhost: false }, () => { if (addon.connectTo('127.0.0.2', ${s.a.port}) !== 0) throw new Error('no network'); })));
            print(await outcome(t.noEgress({}, () => { throw new Error('plain failure'); })));
            print(await outcome(t.noEgress({}, () => 7)));
        `);
        assert.deepEqual(r.results, [['EgressViolation', 'no network'], ['Error', null], ['value', 7]], r.stderr);
    });

    test('an enclosing noEgress() sees what a nested one caught, even when its violation is swallowed', async () => {
        const r = await inFreshNode(`
            try {
                await t.noEgress({ allowLocalhost: false, label: 'outer' }, async () => {
                    await t.noEgress({ allowLocalhost: false, label: 'inner' }, () => addon.connectTo('127.0.0.2', ${s.a.port})).catch(() => {});
                    addon.connectTo('127.0.0.3', ${s.a.port});
                });
                print('resolved');
            } catch (e) {
                print([e.scopeLabel, e.events.map((x) => [x.ip, x.scopeLabel])]);
            }
        `);
        assert.deepEqual(r.results, [['outer', [['127.0.0.2', 'inner'], ['127.0.0.3', 'outer']]]], r.stderr);
    });

    test('attempts are judged by the policy in force as well; in log-only mode they are reported, not blocked', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: [], allowLocalhost: false, logOnly: true });
            const e = await t.noEgress({ allow: ['127.0.0.2'] }, () => addon.connectTo('127.0.0.2', ${s.a.port})).catch((x) => x);
            print([e.name, e.events.map((x) => x.decision)]);
            t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            const f = await t.noEgress({ allow: ['127.0.0.0/8'], allowLocalhost: false }, () => addon.connectTo('127.0.0.3', ${s.a.port})).catch((x) => x);
            print([f.name, f.events.map((x) => [x.decision, x.ip])]);
        `);
        assert.deepEqual(r.results, [['EgressViolation', ['would-block']], ['EgressViolation', [['block', '127.0.0.3']]]], r.stderr);
    });
});
