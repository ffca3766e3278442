// BYPASSES S4: a setuid program. The loader ignores LD_PRELOAD for it (secure execution), so the libc layer
// cannot follow it (it warns: test/shim/unchecked-exec.test.mjs). Strict mode runs it under the filter
// (no_new_privs: without its privileges, and it says so) and judges its connects like any program's.
// The program is a setuid copy of curl owned by another user, made by the test harness outside the
// namespace (scripts/test.mjs); there is none without root, and these tests then fail in CI and skip
// elsewhere.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { httpServer, logFile, readEvents, runUnderShim, serve } from '../helpers/shim.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const curl = process.env.TEST_SETUID_CURL;
if (!curl && process.env.CI) throw new Error('CI needs the setuid fixture scripts/test.mjs makes as root');

describe('S4: a setuid program under strict mode', { skip: NEEDS_NETNS || (!curl && 'no setuid fixture (needs root: scripts/test.mjs)') }, () => {
    const s = serve({ web: () => httpServer('127.0.0.2') });
    const get = (args) => runUnderShim(process.execPath, [cli, 'run', '--strict', '--no-localhost', '--log', 'stderr', ...args, '--', curl, '-sS', '--max-time', '3', `http://127.0.0.2:${s.web.port}/`], { TETHERED_LOG: undefined }, { preload: false });
    const events = (stderr) => stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));

    test('S4 positive control: without tethered the setuid program reaches the server', async () => {
        const before = s.web.requests;
        const r = await runUnderShim(curl, ['-sS', '--max-time', '3', `http://127.0.0.2:${s.web.port}/`], {}, { preload: false });
        assert.equal(r.stdout, 'hello from 127.0.0.2', r.stderr);
        assert.equal(s.web.requests, before + 1);
    });

    test('S4 blocked: under tethered run --strict its connect is refused, nothing reaches the server, one event, and it is told it runs without its privileges', async () => {
        const before = s.web.requests;
        const r = await get(['--allow', '127.0.0.9:80']);
        assert.notEqual(r.code, 0);
        assert.equal(s.web.requests, before, 'the server saw the request');
        assert.deepEqual(events(r.stderr).map((e) => [e.decision, e.layer, e.ip, e.port]), [['block', 'strict', '127.0.0.2', s.web.port]]);
        assert.equal(r.stderr.split('\n').filter((l) => l.includes('runs WITHOUT its privileges')).length, 1, r.stderr);
    });

    test('S4 log-only: it reaches the server and the attempt is reported once', async () => {
        const before = s.web.requests;
        const r = await get(['--allow', '127.0.0.9:80', '--log-only']);
        assert.equal(r.stdout, 'hello from 127.0.0.2', r.stderr);
        assert.equal(s.web.requests, before + 1);
        assert.deepEqual(events(r.stderr).map((e) => [e.decision, e.layer, e.port]), [['would-block', 'strict', s.web.port]]);
    });

    test('S4 allowed: with a rule for the server it works end to end, no event', async () => {
        const r = await get(['--allow', `127.0.0.2:${s.web.port}`]);
        assert.equal(r.stdout, 'hello from 127.0.0.2', r.stderr);
        assert.deepEqual(events(r.stderr), []);
    });

    // The in-process entry points: the Node process's own filter (strict: true), and a supervisor per child
    // (children: 'strict'). The setuid program is spawned with an empty environment.
    for (const [entry, option] of [
        ['activate({ strict: true })', 'strict: true'],
        ["activate({ children: 'strict' })", "children: 'strict'"],
    ]) {
        const spawnCurl = (policy, log = logFile()) =>
            inFreshNode(`
                const seen = [];
                t.activate({ ${option}, allowLocalhost: false, ${policy}, onBlocked: (e) => seen.push(e) });
                const c = require('node:child_process').spawnSync(${JSON.stringify(curl ?? '')}, ['-sS', '--max-time', '3', 'http://127.0.0.2:${s.web.port}/'], { env: {}, encoding: 'utf8' });
                await tick(); await tick();
                print([c.stdout.trim(), c.status]);`, { env: { TETHERED_LOG: log } });

        test(`S4 blocked under ${entry}: the setuid program's request never reaches the server`, async () => {
            const before = s.web.requests;
            const r = await spawnCurl("allow: ['127.0.0.9:80']");
            assert.equal(r.code, 0, r.stderr);
            assert.notEqual(r.results[0][1], 0, 'curl failed');
            assert.equal(s.web.requests, before, 'the server saw the request');
        });

        test(`S4 log-only under ${entry}: it reaches the server, and the attempt is reported once`, async () => {
            const before = s.web.requests;
            const log = logFile();
            const r = await spawnCurl("allow: ['127.0.0.9:80'], logOnly: true", log);
            assert.deepEqual(r.results[0], ['hello from 127.0.0.2', 0], r.stderr);
            assert.equal(s.web.requests, before + 1);
            const mine = readEvents(log).filter((e) => e.port === s.web.port);
            assert.deepEqual(mine.map((e) => [e.decision, e.layer]), [['would-block', 'strict']]);
        });

        test(`S4 allowed under ${entry}: with a rule for the server it works end to end`, async () => {
            const r = await spawnCurl(`allow: ['127.0.0.2:${s.web.port}']`);
            assert.deepEqual(r.results[0], ['hello from 127.0.0.2', 0], r.stderr);
        });
    }
});
