// BYPASSES L6: the name actually looked up changes after the check. Resolver environment variables
// (HOSTALIASES, LOCALDOMAIN, RES_OPTIONS) make glibc ask for another name than the one the program passed;
// getaddrinfo_a's request is rewritten after the hook judged it, before libc's thread reads it; a signal
// handler runs in the middle of an allowed lookup and makes attempts of its own. Inside a lookup only the
// questions for its own name (and resolv.conf's search list) pass without another judgement, so each of
// these is judged by the name that would really leave. The test runs the name server and reads every byte
// it is sent: the refused name must never arrive there.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { netprobe, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';
import { rawDnsServer } from './dns-raw-server.mjs';

const RESOLVER = '127.0.0.53';
const STRICT = { TETHERED_ALLOW_LOCALHOST: '0' };
const OFF = { TETHERED_ALLOW: undefined, TETHERED_POLICY_FILE: undefined };
const LEAK = 'leak-alias.exfil.test';

function aliasFile() {
    const file = join(mkdtempSync(join(tmpdir(), 'tethered-hostaliases-')), 'aliases');
    writeFileSync(file, `shortalias ${LEAK}\n`);
    return file;
}

describe('L6 the name looked up changes after the check (preload)', { skip: NEEDS_NETNS }, () => {
    const s = serve({
        dns: () =>
            rawDnsServer({
                [LEAK]: '127.0.0.12',
                'allowed-async.example.test': '127.0.0.13',
                'slow-lookup.example.test': '127.0.0.14',
                'slow-pool.example.test': '127.0.0.15',
            }),
        tcp: () => tcpServer('127.0.0.2'),
    });

    // [what, env, name passed, name asked instead]
    const ENVIRONMENTS = [
        ['HOSTALIASES maps an allowed name to another', () => ({ HOSTALIASES: aliasFile() }), 'shortalias', LEAK],
        ['LOCALDOMAIN adds a domain of its choosing', () => ({ LOCALDOMAIN: 'exfil.test' }), 'leaklocal', 'leaklocal.exfil.test'],
        ['RES_OPTIONS ndots puts LOCALDOMAIN first for a dotted name', () => ({ LOCALDOMAIN: 'exfil.test', RES_OPTIONS: 'ndots:5' }), 'api.leakndots.test', 'api.leakndots.test.exfil.test'],
    ];
    for (const [what, env, name, asked] of ENVIRONMENTS) {
        test(`L6 ${what}: getaddrinfo(${name}) allowed, the query for ${asked} is judged by that name, blocked and never sent`, async () => {
            const r = await runUnderShim(netprobe(), ['gai', name], { ...STRICT, ...env(), TETHERED_ALLOW: name });
            assert.match(r.stdout, /^gai EAI_/, r.stderr);
            assert.equal(await s.dns.heard(asked), false, `${asked} reached the name server`);
            assert.deepEqual(r.events.map((e) => [e.decision, e.protocol, e.host]), [['block', 'dns', asked]]);
        });
        test(`L6 ${what}: without tethered glibc asks for ${asked} (control); a rule for it allows it`, async () => {
            const off = await runUnderShim(netprobe(), ['gai', name], { ...OFF, ...env() }, { preload: false });
            assert.ok(off.stdout, off.stderr);
            assert.equal(await s.dns.heard(asked), true);
            s.dns.forget();
            const allowed = await runUnderShim(netprobe(), ['gai', name], { ...STRICT, ...env(), TETHERED_ALLOW: `${name},${asked}` });
            assert.equal(await s.dns.heard(asked), true, allowed.stderr);
            assert.deepEqual(allowed.events, []);
            s.dns.forget();
        });
    }

    test('L6 HOSTALIASES: the lookup is reported once in log mode, and answered', async () => {
        const r = await runUnderShim(netprobe(), ['gai', 'shortalias'], { ...STRICT, HOSTALIASES: aliasFile(), TETHERED_ALLOW: 'shortalias', TETHERED_MODE: 'log' });
        assert.equal(r.stdout, 'ok 127.0.0.12', r.stderr);
        assert.deepEqual(r.events.map((e) => [e.decision, e.host]), [['would-block', LEAK]]);
        s.dns.forget();
    });

    // libc's 20 lookup threads are kept busy first, so that the request waits in its queue while it is rewritten
    const REWRITE = ['gai-a-rewrite', 'allowed-async.example.test', 'leak-async.exfil.test', 'slow-pool.example.test'];
    const ASYNC_RULES = 'allowed-async.example.test,slow-pool.example.test';
    test("getaddrinfo_a: a name written into the request after the check is judged on libc's thread, never sent", async () => {
        const r = await runUnderShim(netprobe(), REWRITE, { ...STRICT, TETHERED_ALLOW: ASYNC_RULES });
        assert.match(r.stdout, /^gai EAI_/, r.stderr);
        assert.equal(await s.dns.heard('leak-async.exfil.test'), false);
        assert.deepEqual(r.events.map((e) => [e.decision, e.host]), [['block', 'leak-async.exfil.test']]);
        const logged = await runUnderShim(netprobe(), REWRITE, { ...STRICT, TETHERED_ALLOW: ASYNC_RULES, TETHERED_MODE: 'log' });
        assert.deepEqual(logged.events.map((e) => [e.decision, e.host]), [['would-block', 'leak-async.exfil.test']], logged.stderr);
        s.dns.forget();
    });

    test('getaddrinfo_a: without tethered the rewritten name is what libc asks for (control); the allowed name still resolves', async () => {
        const off = await runUnderShim(netprobe(), REWRITE, OFF, { preload: false });
        assert.ok(off.stdout, off.stderr);
        assert.equal(await s.dns.heard('leak-async.exfil.test'), true);
        s.dns.forget();
        const allowed = await runUnderShim(netprobe(), ['gai-a-rewrite', 'allowed-async.example.test', 'allowed-async.example.test'], { ...STRICT, TETHERED_ALLOW: ASYNC_RULES });
        assert.equal(allowed.stdout, 'ok 127.0.0.13', allowed.stderr);
        assert.deepEqual(allowed.events, []);
    });

    // gai_error() records a finished request's answer under its name; the answer lies in memory the program
    // writes. A request getaddrinfo_a never saw (forged), or a real one whose result was replaced (swapped),
    // must not make the allowed name vouch for another address (the peer on 127.0.0.2: no rule allows it).
    const forge = (how) => ['gai-a-forge', how, 'allowed-async.example.test', '127.0.0.2', String(s.tcp.port)];
    for (const how of ['forged', 'swapped']) {
        test(`getaddrinfo_a: a ${how} answer handed to gai_error() vouches for nothing: blocked, reported once in log mode, reaching the peer without tethered and with a rule for it`, async () => {
            const before = s.tcp.connections;
            const r = await runUnderShim(netprobe(), forge(how), { ...STRICT, TETHERED_ALLOW: 'allowed-async.example.test' });
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.deepEqual(r.events.map((e) => [e.decision, e.ip, e.host]), [['block', '127.0.0.2', null]]);
            assert.equal(s.tcp.connections, before);

            const logged = await runUnderShim(netprobe(), forge(how), { ...STRICT, TETHERED_ALLOW: 'allowed-async.example.test', TETHERED_MODE: 'log' });
            assert.match(logged.stdout, /^ok /, logged.stderr);
            assert.deepEqual(logged.events.map((e) => [e.decision, e.ip]), [['would-block', '127.0.0.2']]);

            const off = await runUnderShim(netprobe(), forge(how), OFF, { preload: false });
            assert.match(off.stdout, /^ok /, off.stderr);
            const allowed = await runUnderShim(netprobe(), forge(how), { ...STRICT, TETHERED_ALLOW: `allowed-async.example.test,127.0.0.2:${s.tcp.port}` });
            assert.match(allowed.stdout, /^ok /, allowed.stderr);
            assert.deepEqual(allowed.events, []);
            s.dns.forget();
        });
    }

    // The answer of a real request costs no second lookup when it came over DNS (the wire hooks read it as it
    // came), and many requests at once for an /etc/hosts name (no DNS packet: looked up again, each) all
    // connect: the first version of the check above looked every answer up twice (a second wait on a slow
    // server) and kept only 64 requests (attacker's review of that fix).
    test('getaddrinfo_a: an answer that came over DNS is not asked for again; 100 requests at once for an /etc/hosts name all connect (control: the same without tethered)', async (t) => {
        const peer = await tcpServer('127.0.0.2'); // its own: these connections must not count in the other tests'
        t.after(() => peer.close());
        s.dns.forget();
        const off = await runUnderShim(netprobe(), ['getaddrinfo_a', 'allowed-async.example.test'], OFF, { preload: false });
        assert.equal(off.stdout, 'ok 127.0.0.13', off.stderr);
        const asked = s.dns.times('allowed-async.example.test');
        assert.ok(asked >= 1);
        s.dns.forget();
        const on = await runUnderShim(netprobe(), ['getaddrinfo_a', 'allowed-async.example.test'], { ...STRICT, TETHERED_ALLOW: 'allowed-async.example.test' });
        assert.equal(on.stdout, 'ok 127.0.0.13', on.stderr);
        assert.equal(s.dns.times('allowed-async.example.test'), asked);

        const many = ['gai-a-many', '100', 'api.example.test', String(peer.port)];
        const allowed = await runUnderShim(netprobe(), many, { ...STRICT, TETHERED_ALLOW: `api.example.test:${peer.port}` });
        assert.equal(allowed.stdout, 'ok 100 0 0', allowed.stderr);
        const offMany = await runUnderShim(netprobe(), many, OFF, { preload: false });
        assert.equal(offMany.stdout, 'ok 100 0 0', offMany.stderr);
        s.dns.forget();
    });

    const signalArgs = () => ['signal-lookup', 'slow-lookup.example.test', RESOLVER, 'leak-sig-gai.exfil.test', 'leak-sig-wire.exfil.test', '127.0.0.2', String(s.tcp.port)];
    test('a signal handler inside an allowed lookup: its own lookup, DNS query and connect are each judged and blocked', async () => {
        const before = s.tcp.connections;
        const r = await runUnderShim(netprobe(), signalArgs(), { ...STRICT, TETHERED_ALLOW: 'slow-lookup.example.test' });
        assert.equal(r.stdout, 'ok EAI_FAIL EACCES EACCES', r.stderr);
        assert.equal(await s.dns.heard('leak-sig-gai.exfil.test'), false);
        assert.equal(await s.dns.heard('leak-sig-wire.exfil.test'), false);
        assert.equal(s.tcp.connections, before, 'the handler connected');
        assert.deepEqual(
            r.events.map((e) => [e.decision, e.host ?? e.ip]),
            [
                ['block', 'leak-sig-gai.exfil.test'],
                ['block', 'leak-sig-wire.exfil.test'],
                ['block', '127.0.0.2'],
            ],
        );
        assert.equal(await s.dns.heard('slow-lookup.example.test'), true, 'the allowed lookup itself went out');
        s.dns.forget();
    });

    test('a signal handler inside an allowed lookup: all three reach their peers without tethered (control), and are reported once each in log mode', async () => {
        const before = s.tcp.connections;
        const off = await runUnderShim(netprobe(), signalArgs(), OFF, { preload: false });
        assert.match(off.stdout, /^ok \S+ ok ok$/, off.stderr);
        assert.equal(await s.dns.heard('leak-sig-gai.exfil.test'), true);
        assert.equal(await s.dns.heard('leak-sig-wire.exfil.test'), true);
        assert.equal(s.tcp.connections, before + 1);
        s.dns.forget();
        const logged = await runUnderShim(netprobe(), signalArgs(), { ...STRICT, TETHERED_ALLOW: 'slow-lookup.example.test', TETHERED_MODE: 'log' });
        assert.match(logged.stdout, /^ok \S+ ok ok$/, logged.stderr);
        assert.deepEqual(logged.events.map((e) => e.decision), ['would-block', 'would-block', 'would-block']);
        s.dns.forget();
    });
});

describe('L6 the name looked up changes after the check (in-process)', { skip: NEEDS_NETNS }, () => {
    const s = serve({ dns: () => rawDnsServer({ [LEAK]: '127.0.0.12' }) });

    // dns.lookup is glibc's getaddrinfo, called on libuv's threads. (c-ares's resolve*() ask the name as
    // given: no alias, no search list.)
    const lookup = (name) => `await new Promise((resolve) => require('node:dns').lookup('${name}', { family: 4 }, (e, a) => resolve(e ? e.code : a)))`;
    const CASES = [
        ['HOSTALIASES', () => `process.env.HOSTALIASES = ${JSON.stringify(aliasFile())};`, 'shortalias', LEAK],
        ['LOCALDOMAIN', () => `process.env.LOCALDOMAIN = 'exfil.test';`, 'leaklocal', 'leaklocal.exfil.test'],
    ];
    for (const [variable, setup, name, asked] of CASES) {
        test(`dns.lookup(${name}) with ${variable}: ${asked} is judged by its own name, never sent; sent without tethered`, async () => {
            const run = (activate) =>
                inFreshNode(`
                    ${setup()}
                    const seen = [];
                    ${activate ? `t.activate({ allow: ['${name}'], allowLocalhost: false, onBlocked: (e) => seen.push([e.decision, e.host]) });` : ''}
                    print(${lookup(name)});
                    await tick();
                    print(seen);
                `);
            const r = await run(true);
            assert.equal(r.code, 0, r.stderr);
            assert.notEqual(r.results[0], '127.0.0.12');
            assert.deepEqual(r.results[1], [['block', asked]]);
            assert.equal(await s.dns.heard(asked), false);
            const off = await run(false);
            assert.equal(off.code, 0, off.stderr);
            assert.equal(await s.dns.heard(asked), true);
            s.dns.forget();
        });
    }

    test('c-ares (dns.Resolver) still resolves an allowed name after activate()', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['${LEAK}'], allowLocalhost: false });
            const resolver = new (require('node:dns').Resolver)();
            resolver.setServers(['${RESOLVER}']);
            print(await new Promise((resolve) => resolver.resolve4('${LEAK}', (e, a) => resolve(e ? e.code : a))));
        `);
        assert.deepEqual(r.results, [['127.0.0.12']], r.stderr);
        s.dns.forget();
    });
});
