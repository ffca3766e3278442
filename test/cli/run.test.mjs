// `tethered run` and `tethered learn` as commands: exit codes, a bad policy stopping the command before it
// starts, signals, and the allow list learn derives from a real run.
import { execFileSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { rulesFromEvents } from '../../dist/cli/learn.js';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { httpServer, netprobe, runUnderShim, tcpServer } from '../helpers/shim.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tethered-run-'));
const tethered = (...args) => runUnderShim(process.execPath, [cli, ...args], { TETHERED_LOG: undefined }, { preload: false });

describe('tethered run', () => {
    test("exits with the command's own status", async () => {
        assert.equal((await tethered('run', '--', 'sh', '-c', 'exit 0')).code, 0);
        assert.equal((await tethered('run', '--', 'sh', '-c', 'exit 7')).code, 7);
    });

    test('a bad policy exits 2 before the command starts', async () => {
        const marker = join(dir, 'started');
        for (const args of [['--allow', 'https://api.example.test'], ['--deny', '10.1'], ['--policy', join(dir, 'missing.json')]]) {
            const r = await tethered('run', ...args, '--', 'touch', marker);
            assert.equal(r.code, 2, args.join(' '));
            assert.match(r.stderr, /tethered run: (Invalid tethered (rule|policy file)|Tethered policy file \S+ not found)/);
            assert.equal(existsSync(marker), false, 'the command never ran');
        }
    });

    test('a policy file that is a FIFO or a directory is refused at once, never waited on', async () => {
        const fifo = join(dir, 'policy.fifo');
        execFileSync('mkfifo', [fifo]);
        for (const path of [fifo, dir]) {
            const r = await tethered('run', '--policy', path, '--', 'true');
            assert.equal(r.code, 2, path);
            assert.match(r.stderr, /not a regular file/);
        }
    });

    test('a command that does not exist exits 127; a signal exits 128+N', async () => {
        const missing = await tethered('run', '--', 'no-such-command-here');
        assert.equal(missing.code, 127);
        assert.match(missing.stderr, /command not found/);
        const killed = await tethered('run', '--', 'sh', '-c', 'kill -TERM $$');
        assert.equal(killed.code, 128 + 15);
    });

    test('usage errors exit 2', async () => {
        assert.equal((await tethered('run', 'sh')).code, 2);
        assert.equal((await tethered('run', '--frob', '--', 'true')).code, 2);
        assert.equal((await tethered('run', '--children', 'some', '--', 'true')).code, 2);
        assert.equal((await tethered('run', '--help')).code, 0);
    });

    test('the command gets the shim first in LD_PRELOAD, the policy in normal form, and no stray TETHERED_*', async () => {
        const r = await runUnderShim(
            process.execPath,
            [cli, 'run', '--allow', 'API.Example.TEST:443', '--allow', 'bücher.example', '--deny', 'evil.example.test', '--no-localhost', '--', 'env'],
            { LD_PRELOAD: '/nonexistent/other.so', TETHERED_MODE: 'log', TETHERED_DENY: '' },
            { preload: false },
        );
        const env = Object.fromEntries(r.stdout.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
        assert.match(env.LD_PRELOAD, /libtethered\.so:\/nonexistent\/other\.so$/);
        assert.equal(env.TETHERED_ALLOW, 'api.example.test:443,xn--bcher-kva.example');
        assert.equal(env.TETHERED_DENY, 'evil.example.test');
        assert.equal(env.TETHERED_MODE, 'enforce');
        assert.equal(env.TETHERED_ALLOW_LOCALHOST, '0');
    });
});

describe('tethered learn', () => {
    test('derives the smallest allow list from events', () => {
        const e = (protocol, host, ip, port, reason = 'no-rule') => ({ decision: 'would-block', protocol, host, ip, port, reason });
        assert.deepEqual(
            rulesFromEvents([
                e('dns', 'api.example.test', null, null),
                e('tcp', 'api.example.test', '127.0.0.2', 443),
                e('tcp', 'api.example.test', '127.0.0.2', 443),
                e('tcp', 'api.example.test', '127.0.0.2', 80),
                e('dns', 'lookup-only.example.test', null, null),
                e('udp', null, '192.0.2.7', 53),
                e('tcp', null, '2001:db8::1', 443),
                e('tcp', null, '127.0.0.1', 8080, 'localhost'),
            ]),
            ['api.example.test:80', 'api.example.test:443', 'lookup-only.example.test', '192.0.2.7:53', '[2001:db8::1]:443'],
        );
    });
});

describe('tethered learn on real programs', { skip: NEEDS_NETNS }, () => {
    let web;
    let tcp;
    before(async () => {
        web = await httpServer('127.0.0.2');
        tcp = await tcpServer('127.0.0.4');
    });
    after(async () => {
        await web.close();
        await tcp.close();
    });

    test('prints the rules that let the command pass, and the command passes under them', async () => {
        const script = `curl -sS http://api.example.test:${web.port}/ >/dev/null && ${netprobe()} connect-ip 127.0.0.4 ${tcp.port} >/dev/null && ${netprobe()} gai evil.example.test >/dev/null`;
        const learned = await tethered('learn', '--no-localhost', '--', 'sh', '-c', script);
        assert.equal(learned.code, 0, learned.stderr);
        const rules = learned.stdout.split('\n');
        assert.deepEqual(rules, [`api.example.test:${web.port}`, 'evil.example.test', `127.0.0.4:${tcp.port}`]);
        assert.match(learned.stderr, /tethered learn: \d+ attempts seen, 3 new rules, 3 in all/);
        const out = join(dir, 'learned.json');
        const written = await tethered('learn', '--no-localhost', '--out', out, '--', 'sh', '-c', script);
        assert.equal(written.code, 0);
        assert.deepEqual(JSON.parse(readFileSync(out, 'utf8')), { allow: rules, allowLocalhost: false });
        const replay = await tethered('run', '--policy', out, '--log', 'stderr', '--', 'sh', '-c', script);
        assert.equal(replay.code, 0, replay.stderr);
        assert.equal(replay.stderr, '');
        const without = await tethered('run', '--no-localhost', '--log', 'off', '--', 'sh', '-c', script);
        assert.notEqual(without.code, 0);
    });
});
