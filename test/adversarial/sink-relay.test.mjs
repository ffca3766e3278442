// The shim's C API for events (tethered_set_sink, tethered_sink_thread) used the way a program may use it.
// A JavaScript-like thread (registered with tethered_sink_thread) hands on what the relay thread holds before
// its own line, under the relay's lock, so that events keep their order across threads. An attacker's
// review of that change found two ways to hang on the lock, both fixed and tested here: a sink that makes a
// judged call on a thread registered with every signal blocked, and a child made by fork() (no exec) that
// sets a sink of its own while the parent's relay thread held the lock. Each case: blocked (enforce),
// reported (log mode: the attempt reaches the kernel and the sink still gets its line), and the control
// without tethered (the attempt reaches the kernel, no line).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildC, root } from '../helpers/cbuild.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { runUnderShim } from '../helpers/shim.mjs';

const program = () => buildC('sinkrelay', [join(root, 'test/adversarial/c/sinkrelay.c')]);
const EACCES = 13;
const ECONNREFUSED = 111; // nothing listens on 127.0.0.3:9: an attempt that reaches the kernel gets this
const POLICY = { TETHERED_ALLOW: '127.0.0.2', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: '/dev/null' };
const MODES = {
    blocked: { env: POLICY, preload: true, errno: EACCES, reported: true },
    'log-only': { env: { ...POLICY, TETHERED_MODE: 'log' }, preload: true, errno: ECONNREFUSED, reported: true },
    'tethered off': { env: {}, preload: false, errno: ECONNREFUSED, reported: false },
};

async function run(mode, { env, preload }) {
    const r = await runUnderShim(program(), [mode, '127.0.0.3', '9'], env, { preload, timeoutMs: 20000 });
    assert.equal(r.signal, null, `killed: it hung (${r.stdout})`);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(0, 2000)}`);
    return JSON.parse(r.stdout);
}

describe('the event sink of the C API', { skip: NEEDS_NETNS }, () => {
    for (const [name, m] of Object.entries(MODES)) {
        test(`${name}: a sink that makes an attempt of its own, on a thread registered with every signal blocked, does not wait for itself`, async () => {
            const r = await run('nested', m);
            assert.deepEqual(r, { outer: m.errno, nested: m.reported ? m.errno : -1, lines: m.reported ? 2 : 0 });
        });

        test(`${name}: a fork() child (no exec) that sets a sink of its own while the parent's relay thread is in a slow sink gets its line; the parent's stay the parent's`, async () => {
            const r = await run('fork', m);
            assert.deepEqual(r, { hung: false, child: m.errno, childLines: m.reported ? 1 : 0, parentLines: m.reported ? 1 : 0 });
        });

        test(`${name}: a native thread's attempt, joined, is reported before the registered thread's next one`, async () => {
            const r = await run('order', m);
            assert.deepEqual(r, m.reported ? { main: m.errno, lines: 2, order: ['thread', 'main'] } : { main: m.errno, lines: 0, order: ['none', 'none'] });
        });
    }
});
