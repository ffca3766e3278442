// Name lookups under the shim: every libc way to resolve a name, forward and reverse, and libresolv's
// queries a program builds itself. A blocked lookup sends nothing: the test DNS server never hears it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { dnsServer } from '../helpers/dns-server.mjs';
import { netprobe, runUnderShim, tcpServer } from '../helpers/shim.mjs';

const STRICT = { TETHERED_ALLOW_LOCALHOST: '0' };
const BLOCKED_ANSWER = {
    gai: 'gai EAI_FAIL',
    getaddrinfo_a: 'gai EAI_FAIL',
    gethostbyname: 'herr NO_RECOVERY',
    gethostbyname2: 'herr NO_RECOVERY',
    gethostbyname_r: 'herr NO_RECOVERY EACCES',
    gethostbyname2_r: 'herr NO_RECOVERY EACCES',
};

describe('lookups under the shim', { skip: NEEDS_NETNS }, () => {
    let dns;
    let server;
    before(async () => {
        dns = await dnsServer({ 'dns-only.example.test': '127.0.0.9', 'db.corp.example.test': '127.0.0.10' });
        server = await tcpServer('127.0.0.9');
    });
    after(async () => {
        await dns.close();
        await server.close();
    });

    // /etc/hosts names (files) and DNS names (the test server): both go through the same hooks.
    for (const how of Object.keys(BLOCKED_ANSWER)) {
        for (const [name, address] of [
            ['api.example.test', '127.0.0.2'],
            ['dns-only.example.test', '127.0.0.9'],
        ]) {
            test(`N5 ${how}(${name}): blocked before any query, one event`, async () => {
                const asked = dns.questions.length;
                const r = await runUnderShim(netprobe(), [how, name], { ...STRICT, TETHERED_ALLOW: 'other.example.test' });
                assert.equal(r.stdout, BLOCKED_ANSWER[how], r.stderr);
                assert.equal(dns.questions.length, asked, 'no query reached the DNS server');
                assert.equal(r.events.length, 1);
                assert.deepEqual(
                    { decision: r.events[0].decision, op: r.events[0].op, protocol: r.events[0].protocol, host: r.events[0].host, rule: r.events[0].rule },
                    { decision: 'block', op: how === 'gai' ? 'getaddrinfo' : how, protocol: 'dns', host: name, rule: name },
                );
            });
            test(`N5 ${how}(${name}): reported once in log mode, and resolved`, async () => {
                const r = await runUnderShim(netprobe(), [how, name], { ...STRICT, TETHERED_ALLOW: '', TETHERED_MODE: 'log' });
                assert.equal(r.stdout, `ok ${address}`, r.stderr);
                assert.equal(r.events.length, 1);
                assert.equal(r.events[0].decision, 'would-block');
            });
            test(`N5 ${how}(${name}): allowed by a name rule (any port), resolved`, async () => {
                const r = await runUnderShim(netprobe(), [how, name], { ...STRICT, TETHERED_ALLOW: `${name}:443` });
                assert.equal(r.stdout, `ok ${address}`, r.stderr);
                assert.deepEqual(r.events, []);
            });
        }
    }

    test('numeric names are not lookups', async () => {
        for (const name of ['127.0.0.2', '127.2', '2130706434']) {
            const r = await runUnderShim(netprobe(), ['gai', name], { ...STRICT, TETHERED_ALLOW: '' });
            assert.equal(r.stdout, 'ok 127.0.0.2', name);
            assert.deepEqual(r.events, []);
        }
    });

    test("the machine's own hostname is exempt", async () => {
        const { hostname } = await import('node:os');
        const r = await runUnderShim(netprobe(), ['gai', hostname()], { ...STRICT, TETHERED_ALLOW: '' });
        assert.equal(r.stdout, 'ok 127.0.1.1');
        assert.deepEqual(r.events, []);
    });

    test('a deny rule stops the lookup of a name an allow rule covers', async () => {
        const r = await runUnderShim(netprobe(), ['gai', 'evil.example.test'], { TETHERED_ALLOW: '*.example.test', TETHERED_DENY: 'evil.example.test' });
        assert.equal(r.stdout, 'gai EAI_FAIL');
        assert.equal(r.events[0].reason, 'deny-rule');
    });

    test('the connect after an allowed lookup is judged by the name and port', async () => {
        const allowed = await runUnderShim(netprobe(), ['connect', 'dns-only.example.test', String(server.port)], {
            ...STRICT,
            TETHERED_ALLOW: `dns-only.example.test:${server.port}`,
        });
        assert.equal(allowed.stdout, 'ok pong:ping', allowed.stderr);
        const wrongPort = await runUnderShim(netprobe(), ['connect', 'dns-only.example.test', String(server.port)], {
            ...STRICT,
            TETHERED_ALLOW: 'dns-only.example.test:1',
        });
        assert.equal(wrongPort.stdout, 'error EACCES');
        assert.equal(wrongPort.events[0].host, 'dns-only.example.test');
        assert.equal(wrongPort.events[0].ip, '127.0.0.9');
    });

    for (const how of ['getnameinfo', 'gethostbyaddr', 'gethostbyaddr_r']) {
        test(`${how}: a reverse lookup no rule allows sends nothing`, async () => {
            const asked = dns.questions.length;
            const r = await runUnderShim(netprobe(), [how, '192.0.2.44'], { ...STRICT, TETHERED_ALLOW: '' });
            // getnameinfo answers with the address itself, as it does when a lookup finds nothing.
            assert.equal(r.stdout, how === 'getnameinfo' ? 'ok 192.0.2.44' : 'herr NO_RECOVERY', r.stderr);
            assert.equal(dns.questions.length, asked);
            assert.equal(r.events.length, 1);
            assert.equal(r.events[0].host, '44.2.0.192.in-addr.arpa');
        });
        test(`${how}: allowed by a rule for the reverse zone, the query is sent`, async () => {
            const asked = dns.questions.length;
            const r = await runUnderShim(netprobe(), [how, '192.0.2.44'], { ...STRICT, TETHERED_ALLOW: '*.in-addr.arpa' });
            assert.ok(dns.questions.length > asked, 'the reverse query reached the DNS server');
            assert.deepEqual(r.events, []);
        });
        test(`${how}: reported once in log mode`, async () => {
            const r = await runUnderShim(netprobe(), [how, '192.0.2.44'], { ...STRICT, TETHERED_ALLOW: '', TETHERED_MODE: 'log' });
            assert.equal(r.events.length, 1);
            assert.equal(r.events[0].decision, 'would-block');
        });
    }

    test('reverse lookups of loopback addresses are local (allowLocalhost)', async () => {
        const r = await runUnderShim(netprobe(), ['getnameinfo', '127.0.0.1'], { TETHERED_ALLOW: '' });
        assert.equal(r.stdout, 'ok localhost');
        assert.deepEqual(r.events, []);
    });

    const RESOLVER_CALLS = [
        ['res_query', ['dns-only.example.test']],
        ['res_search', ['dns-only.example.test']],
        ['res_nquery', ['dns-only.example.test']],
        ['res_nsearch', ['dns-only.example.test']],
        ['res_send', ['dns-only.example.test']],
        ['res_nsend', ['dns-only.example.test']],
        ['res_querydomain', ['dns-only', 'example.test']],
        ['res_nquerydomain', ['dns-only', 'example.test']],
    ];
    for (const [how, args] of RESOLVER_CALLS) {
        test(`${how}: blocked before the query leaves, -1 with NO_RECOVERY and EACCES`, async () => {
            const asked = dns.questions.length;
            const r = await runUnderShim(netprobe(), [how, ...args], { ...STRICT, TETHERED_ALLOW: '' });
            assert.equal(r.stdout, 'herr NO_RECOVERY EACCES', r.stderr);
            assert.equal(dns.questions.length, asked);
            assert.equal(r.events.length, 1);
            assert.equal(r.events[0].host, 'dns-only.example.test');
        });
        test(`${how}: reported once in log mode, answered`, async () => {
            const r = await runUnderShim(netprobe(), [how, ...args], { ...STRICT, TETHERED_ALLOW: '', TETHERED_MODE: 'log' });
            assert.equal(r.stdout, 'ok 127.0.0.9', r.stderr);
            assert.equal(r.events.length, 1);
        });
        test(`${how}: allowed, answered`, async () => {
            const r = await runUnderShim(netprobe(), [how, ...args], { ...STRICT, TETHERED_ALLOW: 'dns-only.example.test' });
            assert.equal(r.stdout, 'ok 127.0.0.9', r.stderr);
            assert.deepEqual(r.events, []);
        });
    }
});

describe('the map of names resolved to each address', { skip: NEEDS_NETNS }, () => {
    let dns;
    let server;
    const names = ['n1', 'n2', 'n3', 'n4', 'n5'].map((n) => `${n}.example.test`);
    before(async () => {
        dns = await dnsServer(Object.fromEntries(names.map((n) => [n, '127.0.0.11'])));
        server = await tcpServer('127.0.0.11');
    });
    after(async () => {
        await dns.close();
        await server.close();
    });

    test('several names per address: a connect is allowed by any of them', async () => {
        const r = await runUnderShim(netprobe(), ['resolve-then-connect', '127.0.0.11', String(server.port), names[0], names[1]], {
            TETHERED_ALLOW_LOCALHOST: '0',
            TETHERED_ALLOW: `${names[0]},${names[1]}:${server.port}`,
            TETHERED_MODE: 'enforce',
        });
        assert.equal(r.stdout, 'ok pong:ping', r.stderr);
    });

    test('a fifth name for the same address evicts the oldest', async () => {
        const allow = `${names.join(',')}`;
        // Rule for n1 only on the server's port; the others on another port, so only n1 can allow it.
        const env = { TETHERED_ALLOW_LOCALHOST: '0', TETHERED_ALLOW: `${names[0]}:${server.port},${names.slice(1).map((n) => `${n}:1`).join(',')}` };
        const four = await runUnderShim(netprobe(), ['resolve-then-connect', '127.0.0.11', String(server.port), ...names.slice(0, 4)], env);
        assert.equal(four.stdout, 'ok pong:ping', 'n1 is still recorded after four names');
        const five = await runUnderShim(netprobe(), ['resolve-then-connect', '127.0.0.11', String(server.port), ...names], env);
        assert.equal(five.stdout, 'error EACCES', 'n1 was evicted by the fifth name');
        assert.equal(five.events.length, 1);
        assert.ok(allow.includes(five.events[0].host));
    });
});
