// Strict mode keeps each call's meaning while judging it: what is judged is what the kernel uses (a
// thread flipping the address never wins), non-blocking connects still say EINPROGRESS, a blocked call
// never stalls the others and a signal still interrupts it, sendmmsg sends up to the refused message, many
// threads get every verdict right with one event per refusal, and a dead supervisor fails closed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { serve, tcpServer, udpServer } from '../helpers/shim.mjs';
import { runPlain, runStrict, strictProbe } from './programs.mjs';

const skip = NEEDS_NETNS;
const NO_LOCALHOST = { TETHERED_ALLOW_LOCALHOST: '0' };

describe('strict mode: the semantics of judged calls', { skip }, () => {
    const s = serve({
        good: () => tcpServer('127.0.0.2'),
        bad: () => tcpServer('127.0.0.3'),
        udpGood: () => udpServer('127.0.0.2'),
        udpBad: () => udpServer('127.0.0.2'),
    });
    const allowGood = () => ({ ...NO_LOCALHOST, TETHERED_ALLOW: `127.0.0.2:${s.good.port}` });

    test('a thread flipping the address while another connects never reaches the refused peer', async () => {
        const before = s.bad.connections;
        const r = await runStrict(strictProbe(), ['race', '127.0.0.2', String(s.good.port), '127.0.0.3', String(s.bad.port), '5000'], {
            ...allowGood(),
            TETHERED_LOG: 'off',
        });
        const m = /^done ok=(\d+) denied=(\d+) other=(\d+)$/.exec(r.stdout);
        assert.ok(m, r.stdout + r.stderr);
        assert.equal(s.bad.connections, before, 'a flipped address got through');
        // Both outcomes occurred: the flipper really raced the connects.
        assert.ok(Number(m[1]) > 0 && Number(m[2]) > 0, r.stdout);
    });

    test('a non-blocking connect answers EINPROGRESS as without tethered, then completes; blocked, it is EACCES', async () => {
        const plain = await runPlain(strictProbe(), ['nonblock', '127.0.0.2', String(s.good.port), 'nb1']);
        assert.equal(plain.stdout, 'inprogress ok pong:nb1');
        const r = await runStrict(strictProbe(), ['nonblock', '127.0.0.2', String(s.good.port), 'nb2'], allowGood());
        assert.equal(r.stdout, 'inprogress ok pong:nb2', r.stderr);
        const blocked = await runStrict(strictProbe(), ['nonblock', '127.0.0.3', String(s.bad.port), 'nb3'], allowGood());
        assert.equal(blocked.stdout, 'error EACCES');
        assert.ok(!s.bad.lines.includes('nb3'));
        assert.equal(blocked.events.length, 1);
    });

    test('a connect that cannot finish does not stall another thread, and a signal interrupts it with EINTR', async () => {
        // Loopback allowed: the stuck connect goes to a full listen queue on 127.0.0.9 inside the probe.
        const plain = await runPlain(strictProbe(), ['stall', '127.0.0.2', String(s.good.port), 'st1']);
        assert.equal(plain.stdout, 'prompt ok pong:st1\nstuck EINTR');
        const r = await runStrict(strictProbe(), ['stall', '127.0.0.2', String(s.good.port), 'st2']);
        assert.equal(r.stdout, 'prompt ok pong:st2\nstuck EINTR', r.stderr);
    });

    test('sendmmsg sends the messages before a refused one and returns their count with msg_len set; the refused one alone is EACCES', async () => {
        const before = s.udpBad.datagrams.length;
        const r = await runStrict(strictProbe(), ['sendmmsg', '127.0.0.2', String(s.udpGood.port), String(s.udpBad.port)], {
            ...NO_LOCALHOST,
            TETHERED_ALLOW: `127.0.0.2:${s.udpGood.port}`,
        });
        assert.equal(r.stdout, 'sent 2 lens 2 3 99; alone error EACCES', r.stderr);
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.ok(s.udpGood.datagrams.includes('m1') && s.udpGood.datagrams.includes('m2-'));
        assert.equal(s.udpBad.datagrams.length, before, 'a refused datagram arrived');
        assert.equal(r.events.length, 2, JSON.stringify(r.events));
        assert.ok(r.events.every((e) => e.op === 'sendmmsg' && e.protocol === 'udp' && e.decision === 'block'));
    });

    test('8 threads × 1,000 connects: no wrong verdict, one event per refusal, no refused connection arrives', async () => {
        const good = s.good.connections;
        const bad = s.bad.connections;
        const r = await runStrict(strictProbe(), ['threads', '8', '1000', '127.0.0.2', String(s.good.port), '127.0.0.3', String(s.bad.port)], allowGood(), {
            timeoutMs: 60000,
        });
        assert.equal(r.stdout, 'wrong=0 allowed=4000 blocked=4000', r.stderr);
        assert.equal(r.events.length, 4000);
        assert.ok(r.events.every((e) => e.decision === 'block' && e.ip === '127.0.0.3'));
        assert.equal(new Set(r.events.map((e) => e.seq)).size, 4000);
        assert.equal(s.bad.connections, bad);
        // every allowed connect reached the server (the server counts them as they are accepted)
        await new Promise((resolve) => setTimeout(resolve, 200));
        assert.equal(s.good.connections - good, 4000);
    });

    test('killing the supervisor makes the judged calls fail closed (ENOSYS), and nothing reaches the peer', async () => {
        const r = await runStrict(strictProbe(), ['killparent', '127.0.0.2', String(s.good.port), 'after-kill'], allowGood());
        assert.equal(r.signal, 'SIGKILL', 'the supervisor was killed');
        assert.equal(r.stdout, 'first ok pong:first\nsecond error ENOSYS', r.stderr);
        assert.ok(!s.good.lines.includes('after-kill'));
    });

    test('a filter with its own listener is refused inside strict mode (it would see the calls first): the nested supervisor says strict mode is unavailable', async () => {
        const r = await runStrict(process.execPath, ['-e', 'process.exit(0)'], {});
        assert.equal(r.code, 0);
        const nested = await runStrict((await import('./programs.mjs')).strictBinary, ['--', 'true'], {});
        assert.equal(nested.code, 2);
        assert.match(nested.stderr, /tethered: strict mode is unavailable here: .*seccomp.*\(Operation not permitted\).*the command was not started/);
    });
});
