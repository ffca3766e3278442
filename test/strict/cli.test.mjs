// `tethered run --strict` and `tethered learn --strict`: the same policy options, log-only mode, events and
// exit status as the libc layer, for programs the shim cannot enter (a static probe, a pure-Go binary).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { logFile, readEvents, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';
import { goDial, strictProbe } from './programs.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const tethered = (...args) => runUnderShim(process.execPath, [cli, ...args], { TETHERED_LOG: undefined }, { preload: false });

describe('tethered run --strict', { skip: NEEDS_NETNS }, () => {
    const s = serve({ peer: () => tcpServer('127.0.0.2') });

    test('blocks a static program outside the allow list, with one strict event in the log', async () => {
        const log = logFile();
        const r = await tethered('run', '--strict', '--no-localhost', '--allow', '127.0.0.3', '--log', log, '--', strictProbe(), 'raw', '127.0.0.2', String(s.peer.port), 'cli-blocked');
        assert.equal(r.stdout, 'error EACCES', r.stderr);
        assert.equal(r.code, 0);
        assert.ok(!s.peer.lines.includes('cli-blocked'));
        const events = readEvents(log);
        assert.equal(events.length, 1);
        assert.equal(events[0].layer, 'strict');
        assert.equal(events[0].decision, 'block');
    });

    test('--log-only lets it through and reports it once', async () => {
        const log = logFile();
        const r = await tethered('run', '--strict', '--log-only', '--no-localhost', '--log', log, '--', strictProbe(), 'raw', '127.0.0.2', String(s.peer.port), 'cli-log');
        assert.equal(r.stdout, 'ok pong:cli-log', r.stderr);
        assert.deepEqual(
            readEvents(log).map((e) => e.decision),
            ['would-block'],
        );
    });

    test('an allowed address works, the command sees no TETHERED_* variables, and its exit status is ours', async () => {
        const r = await tethered('run', '--strict', '--no-localhost', '--allow', `127.0.0.2:${s.peer.port}`, '--', strictProbe(), 'raw', '127.0.0.2', String(s.peer.port), 'cli-ok');
        assert.equal(r.stdout, 'ok pong:cli-ok', r.stderr);
        const env = await tethered('run', '--strict', '--allow', '127.0.0.3', '--', 'sh', '-c', 'env | grep -c ^TETHERED_; exit 5');
        assert.equal(env.stdout, '0');
        assert.equal(env.code, 5);
    });

    test('--strict with --children none is refused (strict mode covers every descendant)', async () => {
        const r = await tethered('run', '--strict', '--children', 'none', '--', 'true');
        assert.equal(r.code, 2);
        assert.match(r.stderr, /--children none cannot be given with it/);
    });

    test('learn --strict records what a pure-Go program reaches and prints the address rule it needs', async () => {
        const r = await tethered('learn', '--strict', '--no-localhost', '--', goDial(), `127.0.0.2:${s.peer.port}`, 'learn-go');
        assert.equal(r.code, 0, r.stderr);
        // the program's own line, then the rules
        assert.deepEqual(r.stdout.split('\n'), ['ok pong:learn-go', `127.0.0.2:${s.peer.port}`]);
        assert.ok(s.peer.lines.includes('learn-go'), 'log mode let it through');
    });
});
