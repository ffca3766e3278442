// DNS a program sends itself (as c-ares does): a query to port 53 is judged by its question name, over UDP
// (sendto, sendmsg, sendmmsg, send/write/writev on a connected socket, syscall(SYS_sendto)) and TCP; a
// refused query never reaches the server; the answers of an allowed one are recorded, so the connect that
// follows is judged by name. Anything sent to port 53 that is not a query is blocked.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { dnsServer } from '../helpers/dns-server.mjs';
import { netprobe, runUnderShim, tcpServer } from '../helpers/shim.mjs';

const STRICT = { TETHERED_ALLOW_LOCALHOST: '0' };
const WAYS = ['udp-sendto', 'udp-sendmsg', 'udp-sendmmsg', 'udp-send', 'udp-write', 'udp-writev', 'syscall-sendto', 'udp-syscall-sendmsg', 'tcp-send', 'tcp-write', 'tcp-writev'];
const NAME = 'wire.example.test'; // only the test DNS server knows it (not /etc/hosts)

describe('DNS queries a program sends itself', { skip: NEEDS_NETNS }, () => {
    let dns;
    let server;
    before(async () => {
        dns = await dnsServer({ [NAME]: '127.0.0.12', 'other.wire.example.test': '127.0.0.13' });
        server = await tcpServer('127.0.0.12');
    });
    after(async () => {
        await dns.close();
        await server.close();
    });

    for (const how of WAYS) {
        test(`${how}: a query for a name no rule allows never leaves; one event`, async () => {
            const asked = dns.questions.length;
            const r = await runUnderShim(netprobe(), ['dns-wire', how, '127.0.0.53', NAME], { ...STRICT, TETHERED_ALLOW: 'other.wire.example.test' });
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.equal(dns.questions.length, asked, 'the server heard nothing');
            assert.deepEqual(
                r.events.map((e) => [e.decision, e.protocol, e.host, e.rule]),
                [['block', 'dns', NAME, NAME]],
            );
        });
        test(`${how}: reported once in log mode, and answered`, async () => {
            const r = await runUnderShim(netprobe(), ['dns-wire', how, '127.0.0.53', NAME], { ...STRICT, TETHERED_ALLOW: '', TETHERED_MODE: 'log' });
            assert.equal(r.stdout, 'ok 127.0.0.12', r.stderr);
            assert.deepEqual(r.events.map((e) => [e.decision, e.protocol, e.host]), [['would-block', 'dns', NAME]]);
        });
        test(`${how}: allowed by a name rule; the answer lets the connect by name through`, async () => {
            const r = await runUnderShim(netprobe(), ['dns-wire', how, '127.0.0.53', NAME, String(server.port)], { ...STRICT, TETHERED_ALLOW: `${NAME}:${server.port}` });
            assert.equal(r.stdout, 'ok 127.0.0.12 connected', r.stderr);
            assert.deepEqual(r.events, []);
        });
    }

    test('the connect after an allowed query is still judged: a port the rule does not name is blocked, by name', async () => {
        const r = await runUnderShim(netprobe(), ['dns-wire', 'udp-sendto', '127.0.0.53', NAME, String(server.port)], { ...STRICT, TETHERED_ALLOW: `${NAME}:1` });
        assert.equal(r.stdout, 'error EACCES', r.stderr);
        assert.deepEqual(r.events.map((e) => [e.op, e.host, e.ip, e.port]), [['connect', NAME, '127.0.0.12', server.port]]);
    });

    test('a datagram to port 53 that is no DNS query is blocked (no tunnel through the resolver)', async () => {
        const asked = dns.questions.length;
        const r = await runUnderShim(netprobe(), ['dns-wire', 'garbage', '127.0.0.53', NAME], { ...STRICT, TETHERED_ALLOW: '*.example.test' });
        assert.equal(r.stdout, 'error EACCES', r.stderr);
        assert.equal(dns.questions.length, asked);
        assert.deepEqual(r.events.map((e) => [e.decision, e.protocol, e.reason]), [['block', 'dns', 'invalid-host']]);
    });

    test('a server that is not in /etc/resolv.conf needs an address rule; its queries are still judged by name', async () => {
        const other = await dnsServer({ [NAME]: '127.0.0.12' }, { address: '127.0.0.54' });
        try {
            const refused = await runUnderShim(netprobe(), ['dns-wire', 'udp-sendto', '127.0.0.54', NAME], { ...STRICT, TETHERED_ALLOW: NAME });
            assert.equal(refused.stdout, 'error EACCES', refused.stderr);
            assert.deepEqual(refused.events.map((e) => [e.protocol, e.ip, e.port]), [['udp', '127.0.0.54', 53]]);
            const allowed = await runUnderShim(netprobe(), ['dns-wire', 'tcp-send', '127.0.0.54', NAME], { ...STRICT, TETHERED_ALLOW: `${NAME} 127.0.0.54:53` });
            assert.equal(allowed.stdout, 'ok 127.0.0.12', allowed.stderr);
            const byName = await runUnderShim(netprobe(), ['dns-wire', 'udp-sendto', '127.0.0.54', NAME], { ...STRICT, TETHERED_ALLOW: '127.0.0.54:53' });
            assert.equal(byName.stdout, 'error EACCES', byName.stderr);
            assert.deepEqual(byName.events.map((e) => [e.protocol, e.host]), [['dns', NAME]]);
        } finally {
            await other.close();
        }
    });

    test('without a policy in force nothing is judged (the shim loaded but idle)', async () => {
        const r = await runUnderShim(netprobe(), ['dns-wire', 'udp-send', '127.0.0.53', NAME], { TETHERED_ALLOW: undefined, TETHERED_POLICY_FILE: undefined }, { preload: false });
        assert.equal(r.stdout, 'ok 127.0.0.12', r.stderr);
    });
});
