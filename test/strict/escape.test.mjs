// Strict mode against the programs the libc layer cannot see (BYPASSES S1–S3): a static program making
// raw `syscall` connects, a pure-Go program, the 32-bit table (int 0x80), io_uring, fork/exec chains. Each
// is blocked (the marker never reaches the peer, checked on the peer's side), reported once in log mode,
// and works when allowed — and reaches the peer without tethered (the positive control).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { serve, tcpServer, udpServer } from '../helpers/shim.mjs';
import { goDial, runPlain, runStrict, strictProbe } from './programs.mjs';

const skip = NEEDS_NETNS;
const NO_LOCALHOST = { TETHERED_ALLOW_LOCALHOST: '0' };

describe('strict mode: programs that make their own system calls', { skip }, () => {
    const s = serve({ peer: () => tcpServer('127.0.0.2') });
    let n = 0;
    const marker = (what) => `${what}-${process.pid}-${++n}`;

    // [BYPASSES row, what, the program, its arguments for a marker]
    const programs = [
        ['S1', 'a static program connecting with the raw syscall instruction', () => strictProbe(), (m) => ['raw', '127.0.0.2', String(s.peer.port), m]],
        ['S2', 'a pure-Go program (CGO_ENABLED=0) dialling an address', () => goDial(), (m) => [`127.0.0.2:${s.peer.port}`, m]],
        ['S1', 'a grandchild three fork+exec generations down', () => strictProbe(), (m) => ['chain', '3', '127.0.0.2', String(s.peer.port), m]],
    ];

    for (const [row, label, program, args] of programs) {
        test(`${row} ${label}: reaches the peer without tethered (control)`, async () => {
            const m = marker('control');
            const r = await runPlain(program(), args(m));
            assert.equal(r.stdout, `ok pong:${m}`, r.stderr);
            assert.ok(s.peer.lines.includes(m));
        });

        test(`${row} ${label}: blocked with EACCES, nothing reaches the peer, one strict event`, async () => {
            const m = marker('blocked');
            const r = await runStrict(program(), args(m), { ...NO_LOCALHOST, TETHERED_ALLOW: '127.0.0.3' });
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.ok(!s.peer.lines.includes(m), 'the marker reached the peer');
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            const [e] = r.events;
            assert.deepEqual(
                { decision: e.decision, op: e.op, protocol: e.protocol, ip: e.ip, port: e.port, rule: e.rule, reason: e.reason, layer: e.layer },
                { decision: 'block', op: 'connect', protocol: 'tcp', ip: '127.0.0.2', port: s.peer.port, rule: `127.0.0.2:${s.peer.port}`, reason: 'no-rule', layer: 'strict' },
            );
            assert.match(e.exe, /strictprobe|godial/);
        });

        test(`${row} ${label}: reported once in log mode and let through`, async () => {
            const m = marker('log');
            const r = await runStrict(program(), args(m), { ...NO_LOCALHOST, TETHERED_ALLOW: '127.0.0.3', TETHERED_MODE: 'log' });
            assert.equal(r.stdout, `ok pong:${m}`, r.stderr);
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.equal(r.events[0].decision, 'would-block');
        });

        test(`${row} ${label}: allowed by an address rule, data round-trips`, async () => {
            const m = marker('allowed');
            const r = await runStrict(program(), args(m), { ...NO_LOCALHOST, TETHERED_ALLOW: `127.0.0.2:${s.peer.port}` });
            assert.equal(r.stdout, `ok pong:${m}`, r.stderr);
            assert.ok(s.peer.lines.includes(m));
            assert.deepEqual(r.events, []);
        });
    }

    test('a 32-bit connect (int 0x80) from a 64-bit process reaches the peer without tethered, and gets ENOSYS under strict mode', async () => {
        const control = marker('int80');
        const plain = await runPlain(strictProbe(), ['int80', '127.0.0.2', String(s.peer.port), control]);
        assert.equal(plain.stdout, `ok pong:${control}`, plain.stderr);
        // The whole 32-bit table is refused: even a destination the policy allows cannot be reached that way.
        for (const allow of ['127.0.0.3', `127.0.0.2:${s.peer.port}`]) {
            const m = marker('int80');
            const r = await runStrict(strictProbe(), ['int80', '127.0.0.2', String(s.peer.port), m], { ...NO_LOCALHOST, TETHERED_ALLOW: allow });
            assert.equal(r.stdout, 'error ENOSYS', r.stderr);
            assert.ok(!s.peer.lines.includes(m));
        }
    });

    test('S3 io_uring connect: blocked — it reaches the peer without tethered; under strict mode io_uring is refused (ENOSYS) by the filter', async () => {
        const control = marker('uring');
        const plain = await runPlain(strictProbe(), ['uring', '127.0.0.2', String(s.peer.port), control]);
        assert.equal(plain.stdout, `ok pong:${control}`, plain.stderr);
        const m = marker('uring');
        const r = await runStrict(strictProbe(), ['uring', '127.0.0.2', String(s.peer.port), m], { ...NO_LOCALHOST, TETHERED_ALLOW: '127.0.0.3' });
        assert.equal(r.stdout, 'error setup ENOSYS', r.stderr);
        assert.ok(!s.peer.lines.includes(m));
    });
});

describe('strict mode: other roads to the network', { skip }, () => {
    const s = serve({ udp: () => udpServer('127.0.0.2'), v6: () => tcpServer('::1') });

    test('IPv6: a pure-Go program dialling [::1] is blocked with an [address]:port hint, and allowed by an IPv6 rule', async () => {
        const before = s.v6.lines.length;
        const r = await runStrict(goDial(), [`[::1]:${s.v6.port}`, 'v6-blocked'], { ...NO_LOCALHOST, TETHERED_ALLOW: '127.0.0.3' });
        assert.equal(r.stdout, 'error EACCES', r.stderr);
        assert.equal(s.v6.lines.length, before);
        assert.equal(r.events.length, 1);
        assert.equal(r.events[0].ip, '::1');
        assert.equal(r.events[0].rule, `[::1]:${s.v6.port}`);
        const ok = await runStrict(goDial(), [`[::1]:${s.v6.port}`, 'v6-ok'], { ...NO_LOCALHOST, TETHERED_ALLOW: `[::1]:${s.v6.port}` });
        assert.equal(ok.stdout, 'ok pong:v6-ok', ok.stderr);
        assert.deepEqual(ok.events, []);
    });

    test('a datagram to an AF_UNSPEC address (an IPv4 socket sends to it) is judged as that address', async () => {
        const plain = await runPlain(strictProbe(), ['unspec', '127.0.0.2', String(s.udp.port), 'unspec-control']);
        assert.equal(plain.stdout, 'ok pong:unspec-control', 'the kernel does send it');
        const before = s.udp.datagrams.length;
        const r = await runStrict(strictProbe(), ['unspec', '127.0.0.2', String(s.udp.port), 'unspec-blocked'], { ...NO_LOCALHOST, TETHERED_ALLOW: '127.0.0.3' });
        assert.equal(r.stdout, 'error EACCES', r.stderr);
        assert.equal(s.udp.datagrams.length, before);
        assert.equal(r.events.length, 1);
        assert.equal(r.events[0].ip, '127.0.0.2');
        const allowed = await runStrict(strictProbe(), ['unspec', '127.0.0.2', String(s.udp.port), 'unspec-ok'], { ...NO_LOCALHOST, TETHERED_ALLOW: `127.0.0.2:${s.udp.port}` });
        assert.equal(allowed.stdout, 'ok pong:unspec-ok', allowed.stderr);
    });

    test('a supervised program cannot reach into another process of the user (process_vm_readv, like ptrace and pidfd_getfd): a Landlock domain', async () => {
        const address = readFileSync('/proc/self/maps', 'utf8').split('-')[0];
        const plain = await runPlain(strictProbe(), ['peek', String(process.pid), address]);
        assert.equal(plain.stdout, 'ok', 'without tethered the same user may');
        const r = await runStrict(strictProbe(), ['peek', String(process.pid), address], {});
        assert.equal(r.stdout, 'error EPERM', r.stderr);
        // …while a process inside the supervised tree may still reach its own children (debuggers work)
        const script = `const {spawn}=require('child_process');const a=require('fs').readFileSync('/proc/self/maps','utf8').split('-')[0];
            spawn(${JSON.stringify(strictProbe())}, ['peek', String(process.pid), a], { stdio: 'inherit' });`;
        const inside = await runStrict(process.execPath, ['-e', script], {});
        assert.equal(inside.stdout, 'ok', inside.stderr);
    });

    test('SCTP sockets are refused (they connect through setsockopt, which carries addresses in memory)', async () => {
        const r = await runStrict(strictProbe(), ['sctp'], {});
        assert.equal(r.stdout, 'error EACCES', r.stderr);
    });
});
