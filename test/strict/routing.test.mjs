// Strict mode against IP source routing: an LSRR option (setsockopt IP_OPTIONS, or an IP_RETOPTS control
// message on sendmsg) makes the kernel send the packet to the route's first hop instead of the peer the
// supervisor judged; an IPv6 routing header (IPV6_RTHDR) does the same. The libc layer refuses these
// (reason raw-socket); strict mode refuses them for programs the libc layer cannot see, with the same event.
// Raw and packet sockets are refused by the filter already (escape.test.mjs covers SCTP; the shim tests raw).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { serve, tcpServer, udpServer } from '../helpers/shim.mjs';
import { runPlain, runStrict, strictBinary, strictProbe } from './programs.mjs';

const NO_LOCALHOST = { TETHERED_ALLOW_LOCALHOST: '0' };
const HOP = '127.0.0.3'; // the route's first hop: a peer the policy does not allow

/** The fields of a raw-socket event, as the libc layer writes them, with the strict layer's mark. */
const rawSocketEvent = (e) => ({ decision: e.decision, op: e.op, protocol: e.protocol, host: e.host, ip: e.ip, port: e.port, rule: e.rule, reason: e.reason, layer: e.layer });
const refused = (op) => ({ decision: 'block', op, protocol: 'raw', host: null, ip: null, port: null, rule: null, reason: 'raw-socket', layer: 'strict' });

describe('strict mode: IP source routing', { skip: NEEDS_NETNS }, () => {
    const s = serve({ peer: () => tcpServer('127.0.0.2'), hop: () => tcpServer(HOP), udp: () => udpServer('127.0.0.2'), udpHop: () => udpServer(HOP) });
    let n = 0;
    const marker = (what) => `${what}-${process.pid}-${++n}`;
    const allowPeer = () => ({ ...NO_LOCALHOST, TETHERED_ALLOW: `127.0.0.2:${s.peer.port},127.0.0.2:${s.udp.port}` });
    const reached = (m) => [s.peer.lines, s.hop.lines, s.udp.datagrams, s.udpHop.datagrams].some((l) => l.includes(m));

    describe('setsockopt(IP_OPTIONS) with a loose source route, then a TCP connect to an allowed peer', () => {
        const args = (m) => ['srr-connect', HOP, '127.0.0.2', String(s.peer.port), m];

        test('without tethered the kernel accepts the option and the SYN goes to the first hop, not the peer (control: on loopback the routed SYN is dropped on arrival, so there is no round trip)', async () => {
            const before = s.peer.connections;
            const r = await runPlain(strictProbe(), args(marker('control')));
            assert.match(r.stdout, /^set error /, r.stderr);
            assert.equal(s.peer.connections, before, 'the SYN went to the peer: the route had no effect');
        });

        test('under strict mode the setsockopt is refused with EACCES, one raw-socket event, nothing reaches either peer', async () => {
            const before = [s.peer.connections, s.hop.connections];
            const m = marker('blocked');
            const r = await runStrict(strictProbe(), args(m), allowPeer());
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.deepEqual([s.peer.connections, s.hop.connections], before);
            assert.ok(!reached(m));
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.deepEqual(rawSocketEvent(r.events[0]), refused('setsockopt'));
            assert.match(r.events[0].exe, /strictprobe/);
        });

        test('log-only: the option is set and reported once (would-block, raw-socket)', async () => {
            const r = await runStrict(strictProbe(), args(marker('log')), { ...allowPeer(), TETHERED_MODE: 'log' });
            assert.match(r.stdout, /^set /, r.stderr);
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.deepEqual(rawSocketEvent(r.events[0]), { ...refused('setsockopt'), decision: 'would-block' });
        });

        test('without the option the same connect to the allowed peer goes through and data round-trips', async () => {
            const m = marker('allowed');
            const r = await runStrict(strictProbe(), ['raw', '127.0.0.2', String(s.peer.port), m], allowPeer());
            assert.equal(r.stdout, `ok pong:${m}`, r.stderr);
            assert.ok(s.peer.lines.includes(m));
            assert.deepEqual(r.events, []);
        });
    });

    describe('sendmsg of a UDP datagram to an allowed peer with an IP_RETOPTS control message holding a source route', () => {
        const args = (m) => ['srr-sendmsg', HOP, '127.0.0.2', String(s.udp.port), m];

        test('without tethered the kernel accepts the control message and sends the datagram toward the first hop, not the peer (control: dropped on arrival on loopback)', async () => {
            const m = marker('control');
            const r = await runPlain(strictProbe(), args(m));
            assert.match(r.stdout, /^sent error /, r.stderr);
            assert.ok(!s.udp.datagrams.includes(m), 'the datagram went to the peer: the route had no effect');
        });

        test('under strict mode the sendmsg is refused with EACCES, one raw-socket event, nothing reaches either peer', async () => {
            const m = marker('blocked');
            const r = await runStrict(strictProbe(), args(m), allowPeer());
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.ok(!reached(m));
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.deepEqual(rawSocketEvent(r.events[0]), refused('sendmsg'));
        });

        test('log-only: the datagram is sent and reported once (would-block, raw-socket)', async () => {
            const r = await runStrict(strictProbe(), args(marker('log')), { ...allowPeer(), TETHERED_MODE: 'log' });
            assert.match(r.stdout, /^sent /, r.stderr);
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.deepEqual(rawSocketEvent(r.events[0]), { ...refused('sendmsg'), decision: 'would-block' });
        });

        test('an ordinary control message (IP_TOS) still passes: the datagram reaches the allowed peer and the answer comes back', async () => {
            const m = marker('tos');
            const r = await runStrict(strictProbe(), ['tos-sendmsg', '127.0.0.2', String(s.udp.port), m], allowPeer());
            assert.equal(r.stdout, `ok pong:${m}`, r.stderr);
            assert.ok(s.udp.datagrams.includes(m));
            assert.deepEqual(r.events, []);
        });
    });

    test('setsockopt(IP_OPTIONS) without a route (record route) is set by the supervisor on the program\'s own socket: getsockopt reads it back, as without tethered', async () => {
        const plain = await runPlain(strictProbe(), ['ipopt-rr']);
        assert.equal(plain.stdout, 'ok 8', plain.stderr);
        const r = await runStrict(strictProbe(), ['ipopt-rr'], allowPeer());
        assert.equal(r.stdout, 'ok 8', r.stderr);
        assert.deepEqual(r.events, []);
    });

    test('setsockopt(IPV6_RTHDR) with a segment routing header: accepted by the kernel without tethered (control), refused with EACCES and a raw-socket event under strict mode', async () => {
        const plain = await runPlain(strictProbe(), ['rthdr6']);
        assert.equal(plain.stdout, 'ok', plain.stderr);
        const r = await runStrict(strictProbe(), ['rthdr6'], allowPeer());
        assert.equal(r.stdout, 'error EACCES', r.stderr);
        assert.equal(r.events.length, 1, JSON.stringify(r.events));
        assert.deepEqual(rawSocketEvent(r.events[0]), refused('setsockopt'));
    });

    describe('a socket whose route was set where no filter saw it (inherited from outside the tree, or set before activate({ strict: true }))', () => {
        const args = (hop, m) => ['srr-exec', hop, strictBinary, '--', strictProbe(), 'connect-fd3', '127.0.0.2', String(s.peer.port), m];
        const viaStrict = (hop, m, env) => runPlain(strictProbe(), args(hop, m), env);

        test('without strict mode the inherited route is used: the SYN never reaches the peer (control)', async () => {
            const before = s.peer.connections;
            const r = await runPlain(strictProbe(), ['srr-exec', HOP, strictProbe(), 'connect-fd3', '127.0.0.2', String(s.peer.port), marker('inherited-control')]);
            assert.match(r.stdout, /^error /, r.stderr);
            assert.equal(s.peer.connections, before);
        });

        test('under strict mode the connect on it is refused with EACCES and one raw-socket event; log-only reports it once', async () => {
            const before = [s.peer.connections, s.hop.connections];
            const r = await viaStrict(HOP, marker('inherited'), allowPeer());
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.deepEqual(r.events.map(rawSocketEvent), [refused('connect')]);
            assert.deepEqual([s.peer.connections, s.hop.connections], before);
            const logged = await viaStrict(HOP, marker('inherited-log'), { ...allowPeer(), TETHERED_MODE: 'log' });
            assert.deepEqual(logged.events.map((e) => [e.decision, e.reason]), [['would-block', 'raw-socket']]);
        });

        test('the same inherited socket without a route connects to the allowed peer and data round-trips', async () => {
            const m = marker('inherited-allowed');
            const r = await viaStrict('none', m, allowPeer());
            assert.equal(r.stdout, `ok pong:${m}`, r.stderr);
            assert.deepEqual(r.events, []);
        });
    });
});
