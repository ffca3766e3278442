// Datagrams and TCP Fast Open under the shim: sendto, sendmsg (msg_name), sendmmsg (each message judged),
// connect+send on UDP, syscall(SYS_sendto / SYS_sendmsg), and MSG_FASTOPEN, which connects without connect().
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { netprobe, runUnderShim, tcpServer, udpServer } from '../helpers/shim.mjs';

const STRICT = { TETHERED_ALLOW_LOCALHOST: '0' };

describe('datagrams and Fast Open under the shim', { skip: NEEDS_NETNS }, () => {
    let udp;
    let udp6;
    let udpOther;
    let tcp;
    before(async () => {
        udp = await udpServer('127.0.0.2');
        udp6 = await udpServer('::1');
        udpOther = await udpServer('127.0.0.3');
        tcp = await tcpServer('127.0.0.2');
    });
    after(async () => {
        await Promise.all([udp.close(), udp6.close(), udpOther.close(), tcp.close()]);
    });

    const udpPaths = ['udp-sendto', 'udp-sendmsg', 'udp-connect-send', 'syscall-sendto', 'syscall-sendmsg'];
    const row = (how) => (how.startsWith('syscall') ? 'N4' : 'N2');
    for (const how of udpPaths) {
        test(`${row(how)} ${how}: blocked with EACCES, nothing arrives, one event`, async () => {
            const seen = udp.datagrams.length;
            const r = await runUnderShim(netprobe(), [how, '127.0.0.2', String(udp.port)], { ...STRICT, TETHERED_ALLOW: 'other.example.test' });
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.equal(udp.datagrams.length, seen);
            assert.equal(r.events.length, 1);
            assert.equal(r.events[0].protocol, 'udp');
            assert.equal(r.events[0].port, udp.port);
        });
        test(`${row(how)} ${how}: reported once in log mode, and delivered`, async () => {
            const r = await runUnderShim(netprobe(), [how, '127.0.0.2', String(udp.port)], { ...STRICT, TETHERED_ALLOW: '', TETHERED_MODE: 'log' });
            assert.equal(r.stdout, 'ok pong:ping', r.stderr);
            assert.equal(r.events.length, 1);
            assert.equal(r.events[0].decision, 'would-block');
        });
        test(`${row(how)} ${how}: allowed by a rule, the reply comes back`, async () => {
            const r = await runUnderShim(netprobe(), [how, '127.0.0.2', String(udp.port)], { ...STRICT, TETHERED_ALLOW: `127.0.0.2:${udp.port}` });
            assert.equal(r.stdout, 'ok pong:ping', r.stderr);
            assert.deepEqual(r.events, []);
        });
    }

    test('udp-sendto to IPv6 [::1] is judged like IPv4', async () => {
        const blocked = await runUnderShim(netprobe(), ['udp-sendto', '::1', String(udp6.port)], { ...STRICT, TETHERED_ALLOW: '' });
        assert.equal(blocked.stdout, 'error EACCES');
        assert.equal(blocked.events[0].ip, '::1');
        const allowed = await runUnderShim(netprobe(), ['udp-sendto', '::1', String(udp6.port)], { ...STRICT, TETHERED_ALLOW: '[::1]' });
        assert.equal(allowed.stdout, 'ok pong:ping');
    });

    test('N2 sendmmsg judges every message: the batch stops at the first blocked one (blocked, logged, allowed)', async () => {
        const logged = await runUnderShim(netprobe(), ['udp-sendmmsg', '127.0.0.2', String(udp.port), '127.0.0.3', String(udpOther.port)], {
            ...STRICT,
            TETHERED_ALLOW: '',
            TETHERED_MODE: 'log',
        });
        assert.match(logged.stdout, /^sent 2\n/, logged.stderr);
        assert.deepEqual(logged.events.map((e) => [e.decision, e.op, e.ip]), [['would-block', 'sendmmsg', '127.0.0.2'], ['would-block', 'sendmmsg', '127.0.0.3']]);

        const allowedFirst = await runUnderShim(netprobe(), ['udp-sendmmsg', '127.0.0.2', String(udp.port), '127.0.0.3', String(udpOther.port)], {
            ...STRICT,
            TETHERED_ALLOW: '127.0.0.2',
        });
        assert.match(allowedFirst.stdout, /^sent 1\nreply pong:ping$/, allowedFirst.stderr);
        assert.equal(allowedFirst.events.length, 1);
        assert.equal(allowedFirst.events[0].ip, '127.0.0.3');
        assert.equal(allowedFirst.events[0].op, 'sendmmsg');

        const blockedFirst = await runUnderShim(netprobe(), ['udp-sendmmsg', '127.0.0.3', String(udpOther.port), '127.0.0.2', String(udp.port)], {
            ...STRICT,
            TETHERED_ALLOW: '127.0.0.2',
        });
        assert.equal(blockedFirst.stdout, 'error EACCES');

        const both = await runUnderShim(netprobe(), ['udp-sendmmsg', '127.0.0.2', String(udp.port), '127.0.0.3', String(udpOther.port)], {
            ...STRICT,
            TETHERED_ALLOW: '127.0.0.2,127.0.0.3',
        });
        assert.match(both.stdout, /^sent 2\nreply pong:ping\nreply pong:pong$/);
    });

    for (const how of ['tfo-sendto', 'tfo-sendmsg']) {
        test(`N3 ${how}: TCP Fast Open is blocked before the SYN leaves`, async () => {
            const seen = tcp.connections;
            const r = await runUnderShim(netprobe(), [how, '127.0.0.2', String(tcp.port)], { ...STRICT, TETHERED_ALLOW: '' });
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.equal(tcp.connections, seen);
            assert.equal(r.events.length, 1);
            assert.equal(r.events[0].protocol, 'tcp');
        });
        test(`N3 ${how}: reported once in log mode, and connects`, async () => {
            const r = await runUnderShim(netprobe(), [how, '127.0.0.2', String(tcp.port)], { ...STRICT, TETHERED_ALLOW: '', TETHERED_MODE: 'log' });
            assert.equal(r.stdout, 'ok pong:ping', r.stderr);
            assert.equal(r.events.length, 1);
        });
        test(`N3 ${how}: allowed by a rule, data round-trips`, async () => {
            const r = await runUnderShim(netprobe(), [how, '127.0.0.2', String(tcp.port)], { ...STRICT, TETHERED_ALLOW: `127.0.0.2:${tcp.port}` });
            assert.equal(r.stdout, 'ok pong:ping', r.stderr);
            assert.deepEqual(r.events, []);
        });
    }
});
