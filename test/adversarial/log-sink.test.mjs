// Issue 9 items 3 and 4: the shim's own output never lands in the program's data, never hangs it and never
// kills it. Each test does to a program's descriptors what programs do (close stderr and open a socket,
// dup2() over descriptors, lose the reader of their stderr pipe, get a log path that is no file) and
// checks, on the peer's side, that only the program's own bytes arrived, and that enforcement went on.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync, readFileSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { buildC, root } from '../helpers/cbuild.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { logFile, runUnderShim, sanitize, serve, shim } from '../helpers/shim.mjs';

const fdprobe = () => buildC('fdprobe', [join(root, 'test/adversarial/c/fdprobe.c')]);
const dir = mkdtempSync(join(tmpdir(), 'tethered-log-sink-'));
const POLICY = { TETHERED_ALLOW: '127.0.0.2', TETHERED_ALLOW_LOCALHOST: '0' };
const NOT_WRITTEN = /^tethered: events are not being written: /;

/** A TCP peer that keeps every byte each connection sent; `received()` waits until all of them ended. */
async function capture(host) {
    const state = { connections: 0, data: [] };
    const ended = [];
    const server = net.createServer((socket) => {
        state.connections++;
        const i = state.data.push('') - 1;
        socket.setEncoding('utf8');
        socket.on('data', (d) => (state.data[i] += d));
        socket.on('error', () => {});
        ended.push(once(socket, 'close'));
    });
    server.listen(0, host);
    await once(server, 'listening');
    return Object.assign(state, {
        host,
        port: server.address().port,
        received: async () => {
            await Promise.all(ended);
            return state.data;
        },
        reset: () => {
            state.connections = 0;
            state.data.length = 0;
            ended.length = 0;
        },
        close: () => new Promise((r) => server.close(r)),
    });
}

function fifo(name) {
    const path = join(dir, name);
    execFileSync('mkfifo', [path]);
    return path;
}

/**
 * runUnderShim without reading the log back as events (these logs are no event files: /proc/version), and
 * with any stderr (`stderr`: a socket of ours, handed to the child as its fd 2).
 */
async function runNoEvents(cmd, args, env, { timeoutMs = 10000, stderr: errStream = 'pipe', preload = true } = {}) {
    const fullEnv = { ...process.env, ...(sanitize ? SANITIZER_ENV : {}), ...env };
    if (preload) fullEnv.LD_PRELOAD = shim().preload;
    const child = spawn(cmd, args, { env: fullEnv, stdio: ['ignore', 'pipe', errStream] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = await once(child, 'close');
    clearTimeout(timer);
    assert.doesNotMatch(stderr, /AddressSanitizer|runtime error:|LeakSanitizer/);
    return { code, signal, stdout: stdout.trim(), stderr };
}
const SANITIZER_ENV = {
    ASAN_OPTIONS: 'detect_leaks=0:verify_asan_link_order=0:abort_on_error=0:exitcode=99',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1:exitcode=98',
};

function stderrLines(stderr) {
    return stderr.split('\n').filter(Boolean);
}

describe('the event log never goes where the program’s data goes (preload)', { skip: NEEDS_NETNS }, () => {
    const s = serve({ peer: () => capture('127.0.0.2'), blocked: () => capture('127.0.0.3') });
    const reset = () => {
        s.peer.reset();
        s.blocked.reset();
    };
    const args = (...rest) => [...rest, '127.0.0.2', String(s.peer.port), '127.0.0.3', String(s.blocked.port)];

    test('events never land in the program’s socket that took fd 2 after it closed stderr', async () => {
        reset();
        const r = await runUnderShim(fdprobe(), args('close2-socket'), { ...POLICY, TETHERED_LOG: 'stderr' });
        assert.deepEqual(r.stdout.split('\n'), ['fd 2', 'blocked EACCES'], r.stderr);
        assert.deepEqual(await s.peer.received(), ['program-bytes\n'], 'the peer got the program’s bytes and nothing else');
        assert.equal(s.blocked.connections, 0);
        // The event went to the stderr the program started with, through the shim's private copy of it.
        const events = stderrLines(r.stderr).map((l) => JSON.parse(l));
        assert.deepEqual(events.map((e) => [e.decision, e.ip]), [['block', '127.0.0.3']]);

        // Positive control, no shim: fd 2 really is that socket, and what is written to fd 2 reaches the peer.
        reset();
        const off = await runUnderShim(fdprobe(), args('close2-socket'), {}, { preload: false });
        assert.deepEqual(off.stdout.split('\n'), ['fd 2', 'connected']);
        assert.deepEqual(await s.peer.received(), ['program-bytes\n']);
        assert.equal(s.blocked.connections, 1);
    });

    test('events never land in the program’s socket that took fd 2 when stderr was closed before it started', async () => {
        // sh closes fd 2 before exec: the shim starts with no stderr at all.
        const closed = (env, opts) => runUnderShim('/bin/sh', ['-c', 'exec "$0" "$@" 2>&-', fdprobe(), ...args('close2-socket')], env, opts);
        reset();
        const r = await closed({ ...POLICY, TETHERED_LOG: 'stderr' });
        assert.deepEqual(r.stdout.split('\n'), ['fd 2', 'blocked EACCES']);
        assert.deepEqual(await s.peer.received(), ['program-bytes\n']);
        assert.equal(s.blocked.connections, 0);
        assert.equal(r.stderr, '');

        reset();
        const off = await closed({}, { preload: false });
        assert.deepEqual(off.stdout.split('\n'), ['fd 2', 'connected']);
        assert.deepEqual(await s.peer.received(), ['program-bytes\n']);
    });

    test('events never land in a socket the program dup2()ed over the shim’s log descriptor; it says so once', async () => {
        reset();
        const log = logFile();
        const r = await runUnderShim(fdprobe(), ['dup2-over-log', log, ...args()], { ...POLICY, TETHERED_LOG: log });
        // "replaced 1": the shim kept one private descriptor on the log, and the program put its socket there.
        assert.deepEqual(r.stdout.split('\n'), ['replaced 1', 'blocked EACCES'], r.stderr);
        assert.deepEqual(await s.peer.received(), ['program-bytes\n']);
        assert.equal(s.blocked.connections, 0);
        const lines = stderrLines(r.stderr);
        assert.equal(lines.length, 1, r.stderr);
        assert.equal(lines[0], `tethered: events are not being written: ${log}: its descriptor was closed or replaced by the program`);
        assert.equal(readFileSync(log, 'utf8'), '');
    });

    test('nothing is ever written to a stderr that is a network socket at start (an inetd-style service)', async () => {
        // The program's fd 2 is a TCP connection to the peer, as inetd hands a service its client.
        const withSocketStderr = async (env, { preload = true, cmd = fdprobe(), cmdArgs = ['attempts', '2', '127.0.0.3', String(s.blocked.port)] } = {}) => {
            reset();
            const socket = net.connect({ host: '127.0.0.2', port: s.peer.port });
            await once(socket, 'connect');
            try {
                return await runNoEvents(cmd, cmdArgs, env, { stderr: socket, preload });
            } finally {
                socket.destroy();
            }
        };
        // Events, a policy that cannot be used, a log that cannot be opened: nothing of it reaches the peer.
        for (const env of [
            { ...POLICY, TETHERED_LOG: 'stderr' },
            { ...POLICY, TETHERED_LOG: 'stderr', TETHERED_ALLOW: '10.1' },
            { ...POLICY, TETHERED_LOG: fifo(`inetd-${Math.random().toString(36).slice(2)}.fifo`) },
        ]) {
            const r = await withSocketStderr(env);
            assert.deepEqual(r.stdout.split('\n'), ['blocked EACCES', 'blocked EACCES'], JSON.stringify(env));
            assert.deepEqual(await s.peer.received(), [''], JSON.stringify(env));
            assert.equal(s.blocked.connections, 0);
        }
        // Control: what the program itself writes to its fd 2 does reach the peer.
        await withSocketStderr({}, { preload: false, cmd: '/bin/sh', cmdArgs: ['-c', 'echo program-bytes >&2'] });
        assert.deepEqual(await s.peer.received(), ['program-bytes\n']);
    });

    test('a stderr pipe whose reader went away does not kill the program with SIGPIPE', async () => {
        // The program's stderr is a pipe into `true`, which exits at once; its stdout stays ours (fd 3).
        const pipeline = (extra, env) =>
            runUnderShim('/bin/sh', ['-c', 'exec 3>&1; "$0" "$@" 2>&1 1>&3 3>&- | true', fdprobe(), 'reader-gone', '127.0.0.3', String(s.blocked.port), ...extra], env);
        reset();
        const r = await pipeline([], { ...POLICY, TETHERED_LOG: 'stderr' });
        assert.deepEqual(r.stdout.split('\n'), ['reader gone', 'blocked EACCES', 'survived'], r.stderr);
        assert.equal(s.blocked.connections, 0);
        // Control: the program writing to that pipe itself dies of SIGPIPE (before "survived").
        const self = await pipeline(['self'], { ...POLICY, TETHERED_LOG: 'stderr' });
        assert.deepEqual(self.stdout.split('\n'), ['reader gone']);
    });

    const UNUSABLE_LOGS = [
        ['a FIFO without a reader', () => fifo('events.fifo'), /it is a FIFO, not a regular file$/],
        ['a symlink to a FIFO', () => {
            const link = join(dir, 'fifo-link');
            symlinkSync(fifo('target.fifo'), link);
            return link;
        }, /it is a FIFO, not a regular file$/],
        ['a directory', () => {
            const d = join(dir, 'a-directory');
            mkdirSync(d);
            return d;
        }, /: Is a directory$|it is a directory, not a regular file$/],
        ['/dev/full', () => '/dev/full', /it is a device, not a regular file$/],
        ['an unwritable file (/proc/version)', () => '/proc/version', /: (Permission denied|Input\/output error)$/],
        ['a path in a missing directory', () => join(dir, 'missing', 'events.jsonl'), /: No such file or directory$/],
    ];
    for (const [what, make, why] of UNUSABLE_LOGS) {
        test(`a log path that is ${what} neither hangs nor stops enforcement; it is said once`, async () => {
            reset();
            const path = make();
            const r = await runNoEvents(fdprobe(), ['attempts', '2', '127.0.0.3', String(s.blocked.port)], { ...POLICY, TETHERED_LOG: path }, { timeoutMs: 10000 });
            assert.equal(r.signal, null, 'it finished on its own');
            assert.equal(r.code, 0);
            assert.deepEqual(r.stdout.split('\n'), ['blocked EACCES', 'blocked EACCES']);
            assert.equal(s.blocked.connections, 0);
            const lines = stderrLines(r.stderr);
            assert.equal(lines.length, 1, r.stderr);
            assert.match(lines[0], NOT_WRITTEN);
            assert.ok(lines[0].includes(path), lines[0]);
            assert.match(lines[0], why);
        });
    }

    test('a log on a full disk (ENOSPC) is not retried, does not stop enforcement, and is said once', async (t) => {
        const small = join(dir, 'small-disk');
        mkdirSync(small);
        try {
            execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4k', 'tmpfs', small], { stdio: 'ignore' });
        } catch {
            t.skip('cannot mount a small tmpfs here');
            return;
        }
        try {
            const log = join(small, 'events.jsonl');
            writeFileSync(log, '');
            try {
                writeFileSync(log, 'x'.repeat(64 * 1024));
            } catch {
                // ENOSPC: the file holds what fitted
            }
            const before = statSync(log).size;
            reset();
            const r = await runNoEvents(fdprobe(), ['attempts', '3', '127.0.0.3', String(s.blocked.port)], { ...POLICY, TETHERED_LOG: log }, { timeoutMs: 10000 });
            assert.equal(r.signal, null);
            assert.deepEqual(r.stdout.split('\n'), ['blocked EACCES', 'blocked EACCES', 'blocked EACCES']);
            assert.equal(s.blocked.connections, 0);
            const lines = stderrLines(r.stderr);
            assert.deepEqual(lines, [`tethered: events are not being written: ${log}: No space left on device`]);
            assert.equal(statSync(log).size, before);
        } finally {
            execFileSync('umount', [small]);
        }
    });

    test('positive control: the blocked peer is reachable without the shim, and a regular log file gets every event', async () => {
        reset();
        const off = await runUnderShim(fdprobe(), ['attempts', '1', '127.0.0.3', String(s.blocked.port)], {}, { preload: false });
        assert.equal(off.stdout, 'connected');
        const log = logFile();
        const r = await runUnderShim(fdprobe(), ['attempts', '2', '127.0.0.3', String(s.blocked.port)], { ...POLICY, TETHERED_LOG: log });
        assert.deepEqual(r.events.map((e) => e.decision), ['block', 'block']);
        assert.equal(r.stderr, '');
    });
});

describe('the event log never goes where the program’s data goes (in-process)', { skip: NEEDS_NETNS }, () => {
    const s = serve({ peer: () => capture('127.0.0.2'), blocked: () => capture('127.0.0.3') });

    test('in-process: events never land in the socket that took fd 2 after the program closed stderr', async () => {
        const run = (activate) =>
            inFreshNode(
                `
                ${activate ? `t.activate({ allow: ['127.0.0.2:${s.peer.port}'], allowLocalhost: false, onBlocked: () => {} });` : ''}
                process.stdout; // node opens /dev/null on a closed fd 2 when it first sets up its stdio
                require('node:fs').closeSync(2);
                const socket = net.connect({ host: '127.0.0.2', port: ${s.peer.port} });
                await new Promise((resolve) => socket.on('connect', resolve));
                print(socket._handle.fd);
                print(addon.connectTo('127.0.0.3', ${s.blocked.port}));
                await new Promise((resolve) => socket.end('program-bytes\\n', resolve));
                `,
                { env: { TETHERED_LOG: 'stderr' } },
            );
        s.peer.reset();
        s.blocked.reset();
        const r = await run(true);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, [2, 13]);
        assert.deepEqual(await s.peer.received(), ['program-bytes\n']);
        assert.equal(s.blocked.connections, 0);
        // The event went to the stderr node had at activate(), through the private copy.
        const events = stderrLines(r.stderr).map((l) => JSON.parse(l));
        assert.deepEqual(events.map((e) => [e.decision, e.ip]), [['block', '127.0.0.3']]);

        s.peer.reset();
        s.blocked.reset();
        const off = await run(false);
        assert.deepEqual(off.results, [2, 0]);
        assert.deepEqual(await s.peer.received(), ['program-bytes\n']);
        assert.equal(s.blocked.connections, 1);
    });

    for (const [what, make] of [
        ['a FIFO without a reader', () => fifo('inprocess.fifo')],
        ['a directory', () => {
            const d = join(dir, 'inprocess-directory');
            mkdirSync(d);
            return d;
        }],
        ['/dev/full', () => '/dev/full'],
    ]) {
        test(`in-process: a log path that is ${what} neither hangs nor stops enforcement; it is said once`, async () => {
            s.blocked.reset();
            const path = make();
            const r = await inFreshNode(
                `
                t.activate({ allow: [], allowLocalhost: false, onBlocked: () => {} });
                print(addon.connectTo('127.0.0.3', ${s.blocked.port}));
                print(addon.connectTo('127.0.0.3', ${s.blocked.port}));
                `,
                { env: { TETHERED_LOG: path } },
            );
            assert.equal(r.signal, null);
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(r.results, [13, 13]);
            assert.equal(s.blocked.connections, 0);
            const lines = stderrLines(r.stderr).filter((l) => l.startsWith('tethered:'));
            assert.equal(lines.length, 1, r.stderr);
            assert.match(lines[0], NOT_WRITTEN);
            assert.ok(lines[0].includes(path), lines[0]);
        });
    }
});
