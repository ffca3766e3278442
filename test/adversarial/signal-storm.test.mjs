// A refused connect() made by a signal handler while the interrupted thread is itself reporting a refused
// connect: reporting runs with the thread's signals blocked, so the handler's attempt waits until the
// report is out instead of taking the same locks again (the loader's, for the native stack) and waiting
// for itself. Before, a program doing so under `tethered run` hung within seconds (found by an attacker's
// review). connect() is async-signal-safe, so a handler may call it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildC, root } from '../helpers/cbuild.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { runUnderShim } from '../helpers/shim.mjs';

const program = () => buildC('sigstorm', [join(root, 'test/adversarial/c/sigstorm.c')]);
// nothing listens on 127.0.0.3:9: an attempt that reaches the kernel is answered ECONNREFUSED
const ARGS = ['127.0.0.3', '9', '2000'];
// every refused attempt is an event with its native stack: written, to nowhere (hundreds of thousands)
const POLICY = { TETHERED_ALLOW: '127.0.0.2', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: '/dev/null' };

describe('refused attempts from signal handlers', { skip: NEEDS_NETNS }, () => {
    const storm = async (env, preload) => {
        const r = await runUnderShim(program(), ARGS, env, { preload, timeoutMs: 30000 });
        assert.equal(r.signal, null, `killed: it hung (${r.stdout})`);
        assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(0, 2000)}`);
        return JSON.parse(r.stdout);
    };

    test('a storm of refused connects from two threads and a 200 us SIGALRM handler: never waits for itself; blocked, reported in log mode, reaching the kernel without tethered', async () => {
        const off = await storm({}, false);
        assert.ok(off.reached > 0 && off.refused === 0 && off.handled > 0, JSON.stringify(off));

        const blocked = await storm(POLICY, true);
        assert.ok(blocked.refused > 0 && blocked.reached === 0 && blocked.handled > 0, JSON.stringify(blocked));

        const logged = await storm({ ...POLICY, TETHERED_MODE: 'log' }, true);
        assert.ok(logged.reached > 0 && logged.refused === 0 && logged.handled > 0, JSON.stringify(logged));
    });
});
