// The native matcher is the authority at run time (docs/rules.md, One normal form): the decisions the
// JavaScript makes while running (capture a stack? is this lookup refused, by whom, why?) are asked of the
// compiled native policy through the addon's decide(), never of a TypeScript copy of the policy. Shown
// where the two used to differ: the UTS #46 lowering of a final 'Σ', and a policy from the environment
// (a ceiling) that the JavaScript was never told of.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { root, serve, tcpServer } from '../helpers/shim.mjs';
import nodeGypBuild from 'node-gyp-build';

const ADDON = `require(${JSON.stringify(nodeGypBuild.resolve(root))})`;

// dns.lookup's outcome: 'ok', or the error's code with what an EgressBlocked carries.
const LOOK = `const dns = require('node:dns');
const look = (name) => new Promise((resolve) => dns.lookup(name, (e) => resolve(e ? { code: e.code, reason: e.event?.reason ?? null, rule: e.event?.rule ?? null, host: e.host ?? null } : 'ok')));`;

describe('run-time decisions come from the native policy', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2') });

    test("a deny rule 'EVIL.Σ' denies the lookup of 'evil.σ' (UTS #46 lowers every Σ to σ), and not 'evil.ς'", async () => {
        const r = await inFreshNode(
            `${LOOK}
            t.activate({ allow: ['evil.σ', 'evil.ς'], deny: ['EVIL.Σ'] });
            print(await look('evil.σ'));
            print(await look('EVIL.Σ'));
            print(await look('evil.ς'));`,
        );
        assert.equal(r.code, 0, r.stderr);
        const [sigma, upper, final] = r.results;
        assert.deepEqual(sigma, { code: 'ERR_EGRESS_BLOCKED', reason: 'deny-rule', rule: 'evil.xn--4xa', host: 'evil.xn--4xa' });
        assert.deepEqual(upper, { code: 'ERR_EGRESS_BLOCKED', reason: 'deny-rule', rule: 'evil.xn--4xa', host: 'evil.xn--4xa' });
        // allowed: it went to the resolver (nobody answers in the test namespace)
        assert.notEqual(final.code, 'ERR_EGRESS_BLOCKED', JSON.stringify(final));
    });

    test('a lookup refused by the policy from the environment (a ceiling the JavaScript was not told of) is an EgressBlocked naming its deny rule', async () => {
        const r = await inFreshNode(
            `${LOOK}
            t.activate({ allow: ['api.example.test', 'evil.example.test'] });
            print(await look('evil.example.test'));
            print(await look('api.example.test'));`,
            { preload: true, env: { TETHERED_ALLOW: 'api.example.test,evil.example.test', TETHERED_DENY: 'evil.example.test', TETHERED_LOG: 'off' } },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, [{ code: 'ERR_EGRESS_BLOCKED', reason: 'deny-rule', rule: 'evil.example.test', host: 'evil.example.test' }, 'ok']);
    });

    const CONNECT = (port) => `
        function connectFromHere() {
            return new Promise((resolve) => {
                const c = net.connect({ host: '127.0.0.2', port: ${port} });
                c.on('connect', () => { c.end('marker\\n'); resolve('ok'); });
                c.on('error', (e) => resolve({ code: e.code, stack: /connectFromHere/.test(e.event?.stack ?? '') }));
            });
        }
        t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
        print(await connectFromHere());
        await tick();`;

    test("a connect only the environment's policy refuses still carries the caller's stack (the native policy says it may be refused), and never reaches the peer", async () => {
        const before = s.tcp.connections;
        const r = await inFreshNode(CONNECT(s.tcp.port), { preload: true, env: { TETHERED_ALLOW: 'api.example.test', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: 'off' } });
        await sleep(100);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, [{ code: 'ERR_EGRESS_BLOCKED', stack: true }]);
        assert.equal(s.tcp.connections - before, 0, 'the blocked peer saw a connection');
    });

    test('control: without that policy in the environment the same connect reaches the peer', async () => {
        const before = s.tcp.connections;
        const r = await inFreshNode(CONNECT(s.tcp.port), { preload: true, env: { TETHERED_LOG: 'off' } });
        await sleep(100);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, ['ok']);
        assert.equal(s.tcp.connections - before, 1);
    });

    test("decide() answers as the hooks do, for the policy in force and a scope's chain, and refuses bad arguments with a TypeError", async () => {
        const r = await inFreshNode(
            `const native = ${ADDON};
            t.activate({ allow: ['api.example.test:443', '10.0.0.0/8'], deny: ['*.evil.test'] });
            const P = 1, S = 2, L = 4;
            print(native.decide('API.Example.Test.', 443, null, P));
            print(native.decide('api.example.test', 80, null, P));
            print(native.decide('x.EVIL.test', -1, null, P));
            print(native.decide('0x0a.1', 22, null, P));
            print(native.decide('10.1.2.3', -1, null, P | L));
            print(native.decide('a\\0b', 443, null, P));
            const errors = [];
            for (const args of [[1, 443, null, P], ['a', 1.5, null, P], ['a', 70000, null, P], ['a', -2, null, P], ['a', 443, {}, P], ['a', 443, null, 0], ['a', 443, null, 8], ['a', 443, null, '1'], []]) {
                try { native.decide(...args); errors.push('ok'); } catch (e) { errors.push(e.name); }
            }
            print(errors);`,
        );
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /FATAL ERROR/);
        const [allowed, wrongPort, denied, odd, exempt, nul, errors] = r.results;
        assert.equal(allowed, null);
        assert.deepEqual(wrongPort, { reason: 'no-rule', rule: 'api.example.test:80', host: 'api.example.test', scope: 0, logOnly: false });
        assert.deepEqual(denied, { reason: 'deny-rule', rule: '*.evil.test', host: 'x.evil.test', scope: 0, logOnly: false });
        assert.equal(odd, null, '0x0a.1 is 10.0.0.1, inside 10.0.0.0/8');
        assert.equal(exempt, null, 'a numeric name is no lookup');
        assert.deepEqual(nul, { reason: 'invalid-host', rule: null, host: null, scope: 0, logOnly: false });
        assert.deepEqual(errors, Array(9).fill('TypeError'));
    });

    // The answers of decide() that the wrappers keep (src/decide.ts) hold only while the shim's count of
    // configurations in force stays the same, read from a word the shim copies it to.
    const KEPT = (port) => `
        function connectFromHere() {
            return new Promise((resolve) => {
                const c = net.connect({ host: '127.0.0.2', port: ${port} });
                c.on('connect', () => { c.end('marker\\n'); resolve('ok'); });
                c.on('error', (e) => resolve({ code: e.code, stack: /connectFromHere/.test(e.event?.stack ?? '') }));
            });
        }
        const native = ${ADDON};
        let asked = 0;
        const decide = native.decide;
        native.decide = function (...args) { asked++; return decide.apply(this, args); };
        t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
        print([await connectFromHere(), await connectFromHere(), asked]);`;

    // another copy of the package (a fresh module registry) puts in force a policy that refuses 127.0.0.2
    const OTHER_COPY_REFUSES = `
            for (const k of Object.keys(require.cache)) delete require.cache[k];
            const b = require(${JSON.stringify(root)});
            if (b === t) throw new Error('not a fresh copy');
            b.activate({ allow: ['api.example.test'], allowLocalhost: false });`;

    test('a destination asked again under the same policy is not asked of the native policy again; a policy another copy put in force is seen at once, and its refusal carries the stack', async () => {
        const before = s.tcp.connections;
        const r = await inFreshNode(
            `${KEPT(s.tcp.port)}
            ${OTHER_COPY_REFUSES}
            print([await connectFromHere(), asked]);
            b.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            print([await connectFromHere(), asked]);
            await tick();`,
        );
        await sleep(100);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, [
            ['ok', 'ok', 1],
            [{ code: 'ERR_EGRESS_BLOCKED', stack: true }, 2],
            ['ok', 3],
        ]);
        assert.equal(s.tcp.connections - before, 3, 'the blocked connect reached the peer, or an allowed one did not');
    });

    test('writing to the word the kept answers are checked against changes no decision: the refused connect is refused still (only its stack is lost)', async () => {
        const before = s.tcp.connections;
        const r = await inFreshNode(
            `${KEPT(s.tcp.port)}
            const word = new Uint32Array(native.decideGeneration());
            const old = word[0];
            ${OTHER_COPY_REFUSES}
            print(word[0] !== old);
            word[0] = old; // as if nothing had changed: the answer kept says 'allowed'
            print([await connectFromHere(), asked]);
            word[0] = 12345;
            print([await connectFromHere(), asked]);
            await tick();`,
        );
        await sleep(100);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, [
            ['ok', 'ok', 1],
            true,
            [{ code: 'ERR_EGRESS_BLOCKED', stack: false }, 1],
            [{ code: 'ERR_EGRESS_BLOCKED', stack: true }, 2],
        ]);
        assert.equal(s.tcp.connections - before, 2, 'only the two connects before the change reach the peer');
    });
});
