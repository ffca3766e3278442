// The test-runner recipes, run for real: Jest (--runInBand) and Vitest (threads, forks, vmThreads), several
// test files in one process. With tethered/jest or tethered/vitest as the setup file, every test runs in
// noEgress(): a blocked fetch fails its test with the attempt listed and its error carries code, host, ip,
// port and rule (across the runner's realms); a request whose error the test swallows still fails it; a
// request to localhost passes. The control: without the setup file, the same fetch reaches the peer.
// And the one-policy rule across test files: a policy locked by one file is seen by the other, which can
// neither lift nor replace it without the token, and its connect does not reach the peer.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { httpServer, root, serve, tcpServer } from '../helpers/shim.mjs';

const here = join(root, 'test', 'runners');

/** Runs a runner's CLI with the peers' ports; resolves to its exit code, output and the records its tests wrote. */
async function run(bin, args, cwd, env = {}) {
    const results = join(mkdtempSync(join(tmpdir(), 'tethered-runner-')), 'results.jsonl');
    const child = spawn(process.execPath, [...(bin ? [join(root, 'node_modules', bin)] : []), ...args], {
        cwd,
        env: { ...process.env, RESULTS: results, ...env, LD_PRELOAD: undefined, TETHERED_LOG: undefined, NODE_TEST_CONTEXT: undefined, CI: '1', NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const [code] = await once(child, 'close');
    clearTimeout(timer);
    await sleep(100); // let the peers' accept events run
    const records = existsSync(results) ? readFileSync(results, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
    return { code, output, records };
}

const jest = (config, files, env) => run('jest/bin/jest.js', ['--config', join(here, 'jest', config), '--runInBand', '--verbose', ...files], join(here, 'jest'), env);
const vitest = (pool, files, env) => run('vitest/vitest.mjs', ['run', '--pool', pool, ...files], join(here, 'vitest'), env);

const nodeTest = (file, env) => run(null, ['--test', '--test-reporter=spec', join(here, 'node-test', file)], join(here, 'node-test'), env);

describe('test runners: every test inside noEgress(), several files in one process', { skip: NEEDS_NETNS }, () => {
    const s = serve({ peer: () => httpServer('127.0.0.2'), local: () => httpServer('127.0.0.1'), tcp: () => tcpServer('127.0.0.2') });
    const ports = () => ({ PEER_PORT: String(s.peer.port), LOCAL_PORT: String(s.local.port) });

    function checkBlocked(r, before) {
        assert.equal(s.peer.requests - before, 0, `the blocked peer saw a request:\n${r.output}`);
        assert.notEqual(r.code, 0, 'the run fails');
        const fetched = r.records.filter((x) => x.file === 'fetch');
        assert.deepEqual(fetched, [{ file: 'fetch', blocked: true, code: 'ERR_EGRESS_BLOCKED', host: null, ip: '127.0.0.2', port: s.peer.port, rule: `127.0.0.2:${s.peer.port}` }], r.output);
        // the blocked fetch and the swallowed http.get each fail their test, with the attempt listed
        assert.match(r.output, /a fetch to the peer[\s\S]*?EgressViolation|EgressViolation[\s\S]*?a fetch to the peer/);
        assert.match(r.output, new RegExp(`block tcp 127\\.0\\.0\\.2:${s.peer.port} http://127\\.0\\.0\\.2:${s.peer.port}/swallowed`));
        assert.match(r.output, /a request to localhost is allowed/);
    }

    test('Jest --runInBand with tethered/jest: blocked fetch fails with the fields, a swallowed one fails too, localhost passes', async () => {
        const before = s.peer.requests;
        const r = await jest('jest.config.cjs', ['fetch', 'swallow'], ports());
        checkBlocked(r, before);
        assert.match(r.output, /Tests:\s+2 failed, 1 passed, 3 total/);
    });

    test('Jest control: without the setup file the same fetch reaches the peer', async () => {
        const before = s.peer.requests;
        const r = await jest('jest.plain.config.cjs', ['fetch'], ports());
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(r.records, [{ file: 'fetch', status: 200 }]);
        assert.equal(s.peer.requests - before, 1);
    });

    test('Jest --runInBand: a policy locked by one test file holds in the next (fresh registry): status true, no lift without the token, connect blocked', async () => {
        const before = s.tcp.connections;
        const r = await jest('jest.plain.config.cjs', ['lock-'], { PEER_PORT: String(s.tcp.port) });
        assert.equal(r.code, 0, r.output);
        checkLock(r.records);
        assert.equal(s.tcp.connections - before, 0, 'the blocked peer saw a connection');
    });

    for (const pool of ['threads', 'forks', 'vmThreads']) {
        test(`Vitest ${pool} with tethered/vitest: blocked fetch fails with the fields, a swallowed one fails too, localhost passes`, async () => {
            const before = s.peer.requests;
            const r = await vitest(pool, ['fetch', 'swallow'], ports());
            checkBlocked(r, before);
            assert.match(r.output, /Tests\s+2 failed \| 1 passed \(3\)/);
        });
    }

    test('Vitest control: without the setup file the same fetch reaches the peer', async () => {
        const before = s.peer.requests;
        const r = await vitest('threads', ['fetch'], { ...ports(), PLAIN: '1' });
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(r.records, [{ file: 'fetch', status: 200 }]);
        assert.equal(s.peer.requests - before, 1);
    });

    test('node:test with tethered/node-test: a swallowed blocked request and a done-callback test fail with the attempt listed, localhost passes', async () => {
        const before = s.peer.requests;
        const r = await nodeTest('egress.test.mjs', ports());
        assert.equal(s.peer.requests - before, 0, `the blocked peer saw a request:\n${r.output}`);
        assert.notEqual(r.code, 0, r.output);
        assert.match(r.output, /✔ a request to localhost is allowed/);
        assert.match(r.output, new RegExp(`✖ a blocked request whose error is swallowed still fails the test[\\s\\S]*EgressViolation[\\s\\S]*block tcp 127\\.0\\.0\\.2:${s.peer.port} http://127\\.0\\.0\\.2:${s.peer.port}/swallowed`));
        assert.match(r.output, new RegExp(`✖ a done-callback test is run inside noEgress\\(\\) too[\\s\\S]*block tcp 127\\.0\\.0\\.2:${s.peer.port} http://127\\.0\\.0\\.2:${s.peer.port}/callback`));
        assert.match(r.output, /ℹ pass 1\n.*ℹ fail 2/s);
    });

    test('node:test control: without tethered the same request reaches the peer', async () => {
        const before = s.peer.requests;
        const r = await nodeTest('plain.test.mjs', ports());
        assert.equal(r.code, 0, r.output);
        assert.equal(s.peer.requests - before, 1);
    });

    for (const pool of ['threads', 'vmThreads']) {
        test(`Vitest ${pool}: a policy locked by one test file (one worker thread) holds in the other: no lift without the token, connect blocked`, async () => {
            const before = s.tcp.connections;
            const r = await vitest(pool, ['lock-'], { PEER_PORT: String(s.tcp.port), PLAIN: '1' });
            assert.equal(r.code, 0, r.output);
            checkLock(r.records);
            assert.equal(s.tcp.connections - before, 0, 'the blocked peer saw a connection');
        });
    }
});

function checkLock(records) {
    const made = records.filter((x) => x.lock === 'made');
    const seen = records.filter((x) => x.lock === 'seen');
    assert.equal(made.length, 1, JSON.stringify(records));
    assert.equal(seen.length, 1, JSON.stringify(records));
    assert.deepEqual(
        { ...seen[0], file: undefined },
        { file: undefined, lock: 'seen', made: 'ERR_TETHERED_LOCKED', status: [true, true, ['locked.example.test']], codes: ['ERR_TETHERED_LOCKED', 'ERR_TETHERED_LOCKED'], connect: 'ERR_EGRESS_BLOCKED' },
    );
}
