// Child processes keep the shim and the policy (BYPASSES C1–C3, preload mode): real curl, python3 and node
// under `tethered run`; children given an empty environment by execve, posix_spawn, env -i, clearenv +
// execvp or system(); grandchildren through sh -c; and --children none.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { httpServer, logFile, netprobe, readEvents, runUnderShim, tcpServer } from '../helpers/shim.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** `tethered run [options] -- cmd…`, events to a log file. */
async function tetheredRun(options, command) {
    const log = logFile();
    const r = await runUnderShim(process.execPath, [cli, 'run', '--log', log, ...options, '--', ...command], {}, { preload: false });
    return { ...r, events: readEvents(log) };
}

describe('child processes under the shim', { skip: NEEDS_NETNS }, () => {
    let web;
    let url;
    let tcp;
    before(async () => {
        web = await httpServer('127.0.0.2');
        tcp = await tcpServer('127.0.0.2');
        url = `http://api.example.test:${web.port}/`;
    });
    after(async () => {
        await web.close();
        await tcp.close();
    });

    const CLIENTS = {
        curl: () => ['curl', '-sS', '--max-time', '5', url],
        python3: () => ['python3', '-c', `import urllib.request; print(urllib.request.urlopen(${JSON.stringify(url)}, timeout=5).read().decode().strip())`],
        node: () => [process.execPath, '-e', `require('http').get(${JSON.stringify(url)}, r => r.pipe(process.stdout)).on('error', e => { console.error(e.code); process.exit(3) })`],
    };

    for (const [name, command] of Object.entries(CLIENTS)) {
        test(`C1 ${name} under tethered run: blocked, one event from ${name}`, async () => {
            const before = web.requests;
            const r = await tetheredRun(['--no-localhost', '--allow', 'other.example.test'], command());
            assert.notEqual(r.code, 0);
            assert.equal(web.requests, before);
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.equal(r.events[0].decision, 'block');
            assert.equal(r.events[0].host, 'api.example.test');
        });
        test(`C1 ${name} under tethered run --log-only: works, the attempt reported`, async () => {
            const r = await tetheredRun(['--no-localhost', '--log-only'], command());
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stdout, 'hello from 127.0.0.2');
            assert.ok(r.events.length >= 1 && r.events.every((e) => e.decision === 'would-block'), JSON.stringify(r.events));
            assert.equal(r.events.filter((e) => e.protocol === 'tcp').length, 1);
        });
        test(`C1 ${name} under tethered run with a rule: works`, async () => {
            const r = await tetheredRun(['--no-localhost', '--allow', `api.example.test:${web.port}`], command());
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stdout, 'hello from 127.0.0.2');
            assert.deepEqual(r.events, []);
        });
    }

    // The child here is netprobe itself (curl under a preloaded AddressSanitizer runtime hangs in
    // setlocale when its environment is empty, with or without tethered).
    const childArgs = () => [netprobe(), 'connect', 'api.example.test', String(tcp.port)];
    const EMPTY_ENV_PATHS = [
        ['execve with an empty environment', () => ['exec-empty-env', ...childArgs()]],
        ['posix_spawn with an empty environment', () => ['spawn-empty-env', ...childArgs()]],
        ['clearenv() then execvp', () => ['execvp-cleared', ...childArgs()]],
        ['clearenv() then system()', () => ['system-cleared', childArgs().join(' ')]],
    ];
    for (const [what, args] of EMPTY_ENV_PATHS) {
        test(`C2 ${what}: the child still has the shim and the policy (blocked, logged, allowed)`, async () => {
            const blocked = await runUnderShim(netprobe(), args(), { TETHERED_ALLOW_LOCALHOST: '0', TETHERED_ALLOW: 'other.example.test' });
            assert.equal(blocked.stdout, 'gai EAI_FAIL');
            assert.equal(blocked.events.length, 1, JSON.stringify(blocked.events));
            assert.notEqual(blocked.events[0].pid, undefined);
            const logged = await runUnderShim(netprobe(), args(), { TETHERED_ALLOW_LOCALHOST: '0', TETHERED_ALLOW: '', TETHERED_MODE: 'log' });
            assert.equal(logged.stdout, 'ok pong:ping');
            assert.equal(logged.events.filter((e) => e.protocol === 'tcp').length, 1);
            const allowed = await runUnderShim(netprobe(), args(), { TETHERED_ALLOW_LOCALHOST: '0', TETHERED_ALLOW: `api.example.test:${tcp.port}` });
            assert.equal(allowed.stdout, 'ok pong:ping', allowed.stderr);
            assert.deepEqual(allowed.events, []);
        });
    }

    test('C2 env -i inside sh -c: the grandchild still has the policy', async () => {
        const r = await tetheredRun(['--no-localhost'], ['sh', '-c', `env -i /usr/bin/curl -sS --max-time 5 ${url}`]);
        assert.notEqual(r.code, 0);
        assert.equal(r.events.length, 1);
        assert.match(r.events[0].exe, /curl$/);
    });

    test('C3 a grandchild through sh -c is blocked, logged and allowed like the child', async () => {
        const cmd = ['sh', '-c', `sh -c 'curl -sS --max-time 5 ${url}'`];
        assert.equal((await tetheredRun(['--no-localhost'], cmd)).events.length, 1);
        const logged = await tetheredRun(['--no-localhost', '--log-only'], cmd);
        assert.equal(logged.stdout, 'hello from 127.0.0.2');
        const allowed = await tetheredRun(['--no-localhost', '--allow', 'api.example.test'], cmd);
        assert.equal(allowed.stdout, 'hello from 127.0.0.2');
    });

    test('a child cannot be handed a looser policy through its environment', async () => {
        const r = await tetheredRun(['--no-localhost'], ['env', 'TETHERED_ALLOW=api.example.test', 'TETHERED_MODE=log', 'LD_PRELOAD=', 'curl', '-sS', '--max-time', '5', url]);
        assert.notEqual(r.code, 0);
        assert.equal(r.events.length, 1);
        assert.equal(r.events[0].decision, 'block');
    });

    test('--children none: the command is judged, its children are not', async () => {
        const direct = await tetheredRun(['--no-localhost', '--children', 'none'], ['curl', '-sS', '--max-time', '5', url]);
        assert.notEqual(direct.code, 0);
        const child = await tetheredRun(['--no-localhost', '--children', 'none'], ['sh', '-c', `curl -sS --max-time 5 ${url}`]);
        assert.equal(child.stdout, 'hello from 127.0.0.2', child.stderr);
        assert.deepEqual(child.events, []);
    });
});
