// BYPASSES C1–C3 in-process: after activate() (no LD_PRELOAD at start), child processes — curl, python3,
// node; a child given an empty environment; env -i inside a shell; grandchildren; fork() without exec —
// keep the shim and the policy: blocked, reported once in log mode, allowed by a rule.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { httpServer, logFile, netprobe, readEvents, serve, tcpServer } from '../helpers/shim.mjs';

describe('child processes of an activate()d process', { skip: NEEDS_NETNS }, () => {
    const s = serve({ web: () => httpServer('127.0.0.2'), tcp: () => tcpServer('127.0.0.2') });

    const url = () => `http://api.example.test:${s.web.port}/`;
    const curl = () => ['/usr/bin/curl', '-sS', '--max-time', '5', url()];
    // [row, what, [command, args], spawn options, the rule that allows it, what the child prints when it works]
    const SCENARIOS = [
        ['C1', 'spawn curl', () => curl(), {}, () => `api.example.test:${s.web.port}`, 'hello from 127.0.0.2'],
        ['C1', 'spawn python3', () => ['python3', '-c', `import urllib.request; print(urllib.request.urlopen('${url()}', timeout=5).read().decode().strip())`], {}, () => `api.example.test:${s.web.port}`, 'hello from 127.0.0.2'],
        ['C1', 'spawn node', () => [process.execPath, '-e', `require('http').get('${url()}', (r) => r.pipe(process.stdout)).on('error', () => process.exit(3))`], {}, () => `api.example.test:${s.web.port}`, 'hello from 127.0.0.2'],
        ['C1', 'exec (through a shell) curl', () => ['/bin/sh', '-c', curl().join(' ')], {}, () => `api.example.test:${s.web.port}`, 'hello from 127.0.0.2'],
        ['C2', 'spawn curl with env: {}', () => curl(), { env: {} }, () => `api.example.test:${s.web.port}`, 'hello from 127.0.0.2'],
        ['C2', 'env -i inside sh -c', () => ['/bin/sh', '-c', `env -i ${curl().join(' ')}`], {}, () => `api.example.test:${s.web.port}`, 'hello from 127.0.0.2'],
        ['C3', "a grandchild: sh -c \"sh -c 'curl …'\"", () => ['/bin/sh', '-c', `sh -c '${curl().join(' ')}'`], {}, () => `api.example.test:${s.web.port}`, 'hello from 127.0.0.2'],
        ['C3', 'fork() without exec in a child', () => [netprobe(), 'fork-connect', '127.0.0.2', String(s.tcp.port)], {}, () => `127.0.0.2:${s.tcp.port}`, 'ok pong:ping'],
    ];

    for (const [row, what, commandFor, options, ruleFor, works] of SCENARIOS) {
        test(`${row} ${what}: blocked, reported once in log mode, allowed by a rule`, async () => {
            const [cmd, ...args] = commandFor();
            const run = async (policy) => {
                const log = logFile();
                const r = await inFreshNode(
                    `
                    const { execFile } = require('node:child_process');
                    t.activate({ ...${JSON.stringify(policy)}, allowLocalhost: false });
                    const out = await new Promise((resolve) => execFile(${JSON.stringify(cmd)}, ${JSON.stringify(args)}, ${JSON.stringify(options)}, (err, stdout) => resolve({ code: err ? err.code ?? 1 : 0, stdout: stdout.trim() })));
                    print(out);
                `,
                    { env: { TETHERED_LOG: log } },
                );
                return { ...r.results[0], stderr: r.stderr, events: readEvents(log).filter((e) => e.pid !== undefined) };
            };
            const blocked = await run({ allow: ['other.example.test'] });
            assert.notEqual(blocked.code, 0, blocked.stderr);
            assert.notEqual(blocked.stdout, works);
            assert.equal(blocked.events.filter((e) => e.decision === 'block').length, 1, JSON.stringify(blocked.events));
            const logged = await run({ allow: [], logOnly: true });
            assert.equal(logged.stdout, works, logged.stderr);
            assert.equal(logged.events.filter((e) => e.protocol === 'tcp').length, 1, JSON.stringify(logged.events));
            assert.ok(logged.events.every((e) => e.decision === 'would-block'));
            const allowed = await run({ allow: [ruleFor()] });
            assert.equal(allowed.stdout, works, allowed.stderr);
            assert.deepEqual(allowed.events, []);
        });
    }
});
