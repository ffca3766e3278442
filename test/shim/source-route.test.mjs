// IP source routing through the libc layer: an LSRR option in an IP_RETOPTS control message (sendmsg,
// sendmmsg, syscall(SYS_sendmsg)) or in setsockopt(IP_OPTIONS), an IPv6 routing header in an IPV6_RTHDR
// control message or in setsockopt(IPV6_2292PKTOPTIONS): the kernel sends the datagram to the route's first
// hop instead of the address the shim judged. The shim refuses them (EACCES, one event, reason raw-socket;
// log-only lets them through and reports once), and ordinary control messages (IP_TOS) still work. The
// probes are test/native/c/escape.c's, as a program (preload) and as an addon (in-process, activate()).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildC, root } from '../helpers/cbuild.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { runUnderShim, serve, udpServer } from '../helpers/shim.mjs';

const source = join(root, 'test/native/c/escape.c');
const program = () => buildC('escape', [source], { libs: ['-lpthread'] });
const addon = () => buildC('escape-addon', [source], { shared: true, suffix: '.node', includes: ['/usr/include/node'], libs: ['-DESCAPE_ADDON'] });

const HOP = '127.0.0.3'; // the route's first hop: a peer the policy does not allow
const peers = serve({ peer: () => udpServer('127.0.0.2'), hop: () => udpServer(HOP), peer6: () => udpServer('::1') });
const POLICY = { TETHERED_ALLOW: '127.0.0.2,[::1]', TETHERED_ALLOW_LOCALHOST: '0' };

// [technique, the op its event names, what it does]
const ROUTES = [
    ['srr-sendmsg', 'sendmsg', 'sendmsg with an IP_RETOPTS control message holding a loose source route'],
    ['srr-second', 'sendmsg', 'sendmsg with an IP_TOS control message, then an IP_RETOPTS one with the route'],
    ['srr-sendmmsg', 'sendmmsg', 'sendmmsg of one message with the IP_RETOPTS route'],
    ['srr-syscall', 'syscall(sendmsg)', 'syscall(SYS_sendmsg) with the IP_RETOPTS route'],
    ['srr-setsockopt', 'setsockopt', 'setsockopt(IP_OPTIONS) with the route, then sendto'],
];
const V6 = [
    ['rthdr6-sendmsg', 'sendmsg', 'sendmsg to [::1] with an IPV6_RTHDR control message'],
    ['rthdr6-pktoptions', 'setsockopt', 'setsockopt(IPV6_2292PKTOPTIONS) holding an IPV6_RTHDR control message'],
];
const ALL = [...ROUTES, ...V6];

let n = 0;
const marker = (how, what) => `${what}-${how}-${process.pid}-${++n}`;
const arrived = (m) => [peers.peer.datagrams, peers.hop.datagrams, peers.peer6.datagrams].some((d) => d.includes(m));
const portFor = (how) => (how.startsWith('rthdr6') ? peers.peer6.port : peers.peer.port);
const rawSocket = (e) => ({ decision: e.decision, op: e.op, protocol: e.protocol, reason: e.reason });

async function preload(how, m, env = POLICY, shim = true) {
    const r = await runUnderShim(program(), [how, '127.0.0.2', String(portFor(how)), m, `${HOP}:1`], env, { preload: shim });
    return { ...r, line: r.stdout };
}

describe('IP source routing in preload mode', { skip: NEEDS_NETNS }, () => {
    for (const [how, op, what] of ROUTES) {
        test(`${what}: without tethered the kernel takes it and the datagram goes toward the first hop, not the peer (control: dropped on arrival on loopback)`, async () => {
            const m = marker(how, 'off');
            const r = await preload(how, m, {}, false);
            assert.equal(r.line, 'sent no-reply', r.stderr);
            assert.equal(arrived(m), false, 'the datagram reached a peer: the route had no effect');
        });
        test(`${what}: refused with EACCES and one raw-socket event, nothing reaches the peer or the hop`, async () => {
            const m = marker(how, 'block');
            const r = await preload(how, m);
            assert.equal(r.line, 'error EACCES', r.stderr);
            assert.equal(arrived(m), false);
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.deepEqual(rawSocket(r.events[0]), { decision: 'block', op, protocol: 'raw', reason: 'raw-socket' });
        });
        test(`${what}: log-only lets it through and reports it once`, async () => {
            const r = await preload(how, marker(how, 'log'), { ...POLICY, TETHERED_MODE: 'log' });
            assert.equal(r.line, 'sent no-reply', r.stderr);
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.deepEqual(rawSocket(r.events[0]), { decision: 'would-block', op, protocol: 'raw', reason: 'raw-socket' });
        });
    }

    for (const [how, op, what] of V6) {
        test(`${what}: without tethered the kernel reads the routing header (this kernel has no Mobile IPv6 and answers EINVAL); under tethered EACCES and one raw-socket event, nothing reaches [::1]`, async () => {
            const plain = await preload(how, marker(how, 'off'), {}, false);
            assert.match(plain.line, /^(set|sent|ok|error EINVAL)/, plain.stderr);
            const m = marker(how, 'block');
            const r = await preload(how, m);
            assert.equal(r.line, 'error EACCES', r.stderr);
            assert.equal(arrived(m), false);
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.deepEqual(rawSocket(r.events[0]), { decision: 'block', op, protocol: 'raw', reason: 'raw-socket' });
        });
    }

    test('an ordinary control message (IP_TOS) on sendmsg to the allowed peer still passes: the datagram arrives and the answer comes back', async () => {
        const m = marker('tos', 'allowed');
        const r = await preload('tos-sendmsg', m);
        assert.equal(r.line, `ok pong:${m}`, r.stderr);
        assert.ok(peers.peer.datagrams.includes(m));
        assert.deepEqual(r.events, []);
    });
});

describe('IP_HDRINCL set with a one-byte value', { skip: NEEDS_NETNS }, () => {
    // the kernel reads a 1-3 byte IPv4 option value as one byte: a raw UDP socket then writes its own IP
    // header, whose destination no hook sees
    test('without tethered the kernel turns IP_HDRINCL on from one byte (control); under tethered it is refused with EACCES and one raw-socket event', async () => {
        const plain = await runUnderShim(program(), ['hdrincl-byte', '127.0.0.2', '1'], {}, { preload: false });
        assert.equal(plain.stdout, 'ok on=1', plain.stderr);
        const r = await runUnderShim(program(), ['hdrincl-byte', '127.0.0.2', '1'], POLICY);
        assert.equal(r.stdout, 'error EACCES', r.stderr);
        assert.equal(r.events.length, 1, JSON.stringify(r.events));
        assert.deepEqual(rawSocket(r.events[0]), { decision: 'block', op: 'setsockopt', protocol: 'raw', reason: 'raw-socket' });
    });
});

describe('IP source routing: the option is read once', { skip: NEEDS_NETNS }, () => {
    // A thread flips a record-route option (harmless) to a loose source route and back while the main thread
    // hands it to the kernel for a second; the kernel must get exactly what was judged.
    const race = (how, env, shim = true) => runUnderShim(program(), [how, '127.0.0.2', '1000', 'race', `${HOP}:1`], env, { preload: shim });

    test('setsockopt(IP_OPTIONS) with a flipping option: without tethered the route is set again and again (control); under tethered it never is, and flips to the route are refused', async () => {
        const plain = await race('race-ipopt', {}, false);
        const p = /routed=(\d+) set=(\d+)/.exec(plain.stdout);
        assert.ok(p && Number(p[1]) > 0, plain.stdout + plain.stderr);
        const r = await race('race-ipopt', POLICY);
        const m = /routed=(\d+) set=(\d+) refused=(\d+)/.exec(r.stdout);
        assert.ok(m, r.stdout + r.stderr);
        assert.equal(Number(m[1]), 0, r.stdout);
        assert.ok(Number(m[2]) > 0 && Number(m[3]) > 0, r.stdout);
    });

    test('sendmsg with a flipping IP_RETOPTS control message: without tethered some datagrams go to the hop and never arrive (control); under tethered every datagram sent arrives, and flips to the route are refused', async () => {
        const plain = await race('race-cmsg', {}, false);
        const p = /lost=(\d+) sent=(\d+)/.exec(plain.stdout);
        assert.ok(p && Number(p[1]) > 0, plain.stdout + plain.stderr);
        const r = await race('race-cmsg', POLICY);
        const m = /lost=(\d+) sent=(\d+) refused=(\d+)/.exec(r.stdout);
        assert.ok(m, r.stdout + r.stderr);
        assert.equal(Number(m[1]), 0, r.stdout);
        assert.ok(Number(m[2]) > 0 && Number(m[3]) > 0, r.stdout);
    });
});

/** Runs every technique in one fresh node, with activate() or without (the control). */
async function inProcess(prefix, { activate = true, logOnly = false } = {}) {
    const hows = [...ALL.map(([how]) => how), 'tos-sendmsg'];
    const targets = Object.fromEntries(hows.map((how) => [how, portFor(how)]));
    const body = `
        const escape = require(${JSON.stringify(addon())});
        const events = [];
        ${activate ? `t.activate({ allow: ['127.0.0.2', '[::1]'], allowLocalhost: false, logOnly: ${logOnly}, onBlocked: (e) => events.push(e) });` : ''}
        const out = {};
        for (const [how, port] of Object.entries(${JSON.stringify(targets)})) out[how] = escape.escape(how, '127.0.0.2', port, ${JSON.stringify(prefix)} + how, '${HOP}:1');
        print(out);
        await tick();
        print(events.map((e) => ({ decision: e.decision, op: e.op, protocol: e.protocol, reason: e.reason })));`;
    const r = await inFreshNode(body);
    assert.equal(r.code, 0, r.stderr);
    return { lines: r.results[0], events: r.results[1] };
}

describe('IP source routing in in-process mode (activate(), no LD_PRELOAD)', { skip: NEEDS_NETNS }, () => {
    const prefix = () => `in-${process.pid}-${++n}-`;

    test('without activate() every route is taken by the kernel: the IPv4 ones are sent (toward the hop, not the peer), and the IP_TOS message round-trips (control)', async () => {
        const p = prefix();
        const { lines } = await inProcess(p, { activate: false });
        for (const [how] of ROUTES) {
            assert.equal(lines[how], 'sent no-reply', how);
            assert.equal(arrived(p + how), false, how);
        }
        for (const [how] of V6) assert.match(lines[how], /^(set|sent|ok|error EINVAL)/, how);
        assert.equal(lines['tos-sendmsg'], `ok pong:${p}tos-sendmsg`);
    });

    test('with activate() every route is refused with EACCES and one raw-socket event each, nothing reaches a peer; IP_TOS still round-trips', async () => {
        const p = prefix();
        const { lines, events } = await inProcess(p);
        for (const [how] of ALL) {
            assert.equal(lines[how], 'error EACCES', how);
            assert.equal(arrived(p + how), false, how);
        }
        assert.equal(lines['tos-sendmsg'], `ok pong:${p}tos-sendmsg`);
        assert.deepEqual(events, ALL.map(([, op]) => ({ decision: 'block', op, protocol: 'raw', reason: 'raw-socket' })));
    });

    test('log-only: every route goes through, each reported once', async () => {
        const { lines, events } = await inProcess(prefix(), { logOnly: true });
        for (const [how] of ROUTES) assert.equal(lines[how], 'sent no-reply', how);
        assert.deepEqual(events, ALL.map(([, op]) => ({ decision: 'would-block', op, protocol: 'raw', reason: 'raw-socket' })));
    });
});
