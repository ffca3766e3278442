// connect() and syscall(SYS_connect) under the preloaded shim: blocked, reported once in log mode, and
// working when allowed — with real servers on loopback addresses inside the test namespace.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { netprobe, runUnderShim, tcpServer } from '../helpers/shim.mjs';

const skip = NEEDS_NETNS;
const STRICT = { TETHERED_ALLOW_LOCALHOST: '0' };

describe('connect under the shim', { skip }, () => {
    let v4;
    let v6;
    before(async () => {
        v4 = await tcpServer('127.0.0.2');
        v6 = await tcpServer('::1');
    });
    after(async () => {
        await v4.close();
        await v6.close();
    });

    const paths = [
        ['N1 N5 connect to a name (getaddrinfo + connect)', () => ['connect', 'api.example.test', String(v4.port)], () => 'api.example.test', () => v4],
        ['N1 connect to an IPv4 literal', () => ['connect-ip', '127.0.0.2', String(v4.port)], () => '127.0.0.2', () => v4],
        ['N1 connect to IPv6 [::1]', () => ['connect-ip', '::1', String(v6.port)], () => '[::1]', () => v6],
        ['N4 syscall(SYS_connect)', () => ['syscall-connect', '127.0.0.2', String(v4.port)], () => '127.0.0.2', () => v4],
    ];

    for (const [what, args, target, server] of paths) {
        test(`${what}: blocked outside the allow list with EACCES and one event`, async () => {
            const before = server().connections;
            const r = await runUnderShim(netprobe(), args(), { ...STRICT, TETHERED_ALLOW: 'other.example.test' });
            assert.match(r.stdout, /^(error EACCES|gai EAI_FAIL)$/, r.stderr);
            assert.equal(server().connections, before, 'no connection reached the server');
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            const [e] = r.events;
            assert.equal(e.decision, 'block');
            assert.equal(e.reason, 'no-rule');
            assert.match(e.exe, /netprobe/);
            assert.ok(Array.isArray(e.nativeStack) && e.nativeStack.some((f) => f.startsWith('netprobe')), JSON.stringify(e.nativeStack));
        });

        test(`${what}: reported once in log mode and let through`, async () => {
            const r = await runUnderShim(netprobe(), args(), { ...STRICT, TETHERED_ALLOW: 'other.example.test', TETHERED_MODE: 'log' });
            assert.equal(r.stdout, 'ok pong:ping', r.stderr);
            const connects = r.events.filter((e) => e.op !== 'getaddrinfo');
            assert.equal(connects.length, 1, JSON.stringify(r.events));
            assert.equal(connects[0].decision, 'would-block');
            assert.equal(connects[0].port, server().port);
        });

        test(`${what}: allowed with a rule, data round-trips`, async () => {
            const r = await runUnderShim(netprobe(), args(), { ...STRICT, TETHERED_ALLOW: `${target()}:${server().port}` });
            assert.equal(r.stdout, 'ok pong:ping', r.stderr);
            assert.deepEqual(r.events, []);
        });
    }

    test('a blocked connect event names the host it was resolved from, the address and the port', async () => {
        const r = await runUnderShim(netprobe(), ['connect', 'api.example.test', String(v4.port)], {
            ...STRICT,
            TETHERED_ALLOW: 'api.example.test:1',
        });
        assert.equal(r.stdout, 'error EACCES');
        assert.equal(r.events.length, 1);
        const e = r.events[0];
        assert.deepEqual(
            { op: e.op, protocol: e.protocol, host: e.host, ip: e.ip, port: e.port, rule: e.rule, reason: e.reason },
            { op: 'connect', protocol: 'tcp', host: 'api.example.test', ip: '127.0.0.2', port: v4.port, rule: `api.example.test:${v4.port}`, reason: 'no-rule' },
        );
        assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
        assert.equal(typeof e.pid, 'number');
        assert.equal(typeof e.tid, 'number');
    });

    test('a deny rule wins over the allow rule and over localhost', async () => {
        const r = await runUnderShim(netprobe(), ['connect-ip', '127.0.0.2', String(v4.port)], { TETHERED_ALLOW: '127.0.0.0/8', TETHERED_DENY: '127.0.0.2' });
        assert.equal(r.stdout, 'error EACCES');
        assert.equal(r.events[0].reason, 'deny-rule');
        assert.equal(r.events[0].rule, '127.0.0.2');
    });

    test('loopback is allowed by default (allowLocalhost)', async () => {
        const r = await runUnderShim(netprobe(), ['connect-ip', '127.0.0.2', String(v4.port)], { TETHERED_ALLOW: '' });
        assert.equal(r.stdout, 'ok pong:ping');
    });

    test('an allowed connect leaves errno as it was', async () => {
        const r = await runUnderShim(netprobe(), ['errno', '127.0.0.2', String(v4.port)], { TETHERED_ALLOW: '127.0.0.2' });
        assert.equal(r.stdout, 'ok rc=0 errno=4242');
    });

    test('Unix sockets are not egress and are never judged', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'tethered-unix-'));
        const path = join(dir, 'sock');
        const server = net.createServer((s) => s.on('data', () => s.end('pong:ping\n')));
        server.listen(path);
        await once(server, 'listening');
        try {
            const r = await runUnderShim(netprobe(), ['unix', path], { ...STRICT, TETHERED_ALLOW: '' });
            assert.equal(r.stdout, 'ok pong:ping');
            assert.deepEqual(r.events, []);
        } finally {
            server.close();
        }
    });

    for (const [kind, expected] of [
        ['null', 'error EFAULT'],
        ['shortlen', 'error EINVAL'],
        ['family', 'error EAFNOSUPPORT'],
    ]) {
        test(`a malformed connect (${kind}) gets libc's own answer`, async () => {
            const plain = await runUnderShim(netprobe(), ['bad-connect', kind], {}, { preload: false });
            const shimmed = await runUnderShim(netprobe(), ['bad-connect', kind], { ...STRICT, TETHERED_ALLOW: '' });
            assert.equal(plain.stdout, expected);
            assert.equal(shimmed.stdout, plain.stdout);
            assert.deepEqual(shimmed.events, []);
        });
    }

    test("an empty name is no lookup: getaddrinfo('') gets libc's own EAI_NONAME, nothing judged", async () => {
        const plain = await runUnderShim(netprobe(), ['gai', ''], {}, { preload: false });
        const shimmed = await runUnderShim(netprobe(), ['gai', ''], { ...STRICT, TETHERED_ALLOW: '' });
        assert.equal(plain.stdout, 'gai EAI_NONAME');
        assert.equal(shimmed.stdout, plain.stdout);
        assert.deepEqual(shimmed.events, []);
    });

    test('C3 fork() without exec: the child keeps the policy (blocked, logged, allowed)', async () => {
        const blocked = await runUnderShim(netprobe(), ['fork-connect', '127.0.0.2', String(v4.port)], { ...STRICT, TETHERED_ALLOW: '' });
        assert.equal(blocked.stdout, 'error EACCES');
        assert.equal(blocked.events.length, 1);
        const logged = await runUnderShim(netprobe(), ['fork-connect', '127.0.0.2', String(v4.port)], { ...STRICT, TETHERED_ALLOW: '', TETHERED_MODE: 'log' });
        assert.equal(logged.stdout, 'ok pong:ping');
        assert.deepEqual(logged.events.map((e) => e.decision), ['would-block']);
        const allowed = await runUnderShim(netprobe(), ['fork-connect', '127.0.0.2', String(v4.port)], { ...STRICT, TETHERED_ALLOW: '127.0.0.2' });
        assert.equal(allowed.stdout, 'ok pong:ping');
    });
});

describe('syscall() forwarding', { skip: NEEDS_NETNS }, () => {
    test('numbers the shim does not judge pass through with all six arguments, and unknown ones get ENOSYS from the kernel', async () => {
        const plain = await runUnderShim(netprobe(), ['syscall-other'], {}, { preload: false });
        const shimmed = await runUnderShim(netprobe(), ['syscall-other'], { TETHERED_ALLOW: '' });
        assert.equal(plain.stdout, 'x\nok pid=1 mmap=ok write=1 bad=-1/ENOSYS');
        assert.equal(shimmed.stdout, plain.stdout);
    });
});
