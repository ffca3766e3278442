// A refused connect() made by a signal handler, while the thread it interrupted is reporting a refused
// connect of its own or is anywhere else (inside malloc, in Node): reporting runs with the thread's signals
// blocked, and in Node any thread but a JavaScript one in its usual mask hands its line to the shim's relay
// thread rather than to the addon (which allocates and locks). Before, such a program hung within seconds,
// preloaded and in-process (found by an attacker's review). connect() is async-signal-safe, so a handler
// may call it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildC, root } from '../helpers/cbuild.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { runUnderShim } from '../helpers/shim.mjs';

const source = join(root, 'test/adversarial/c/sigstorm.c');
const program = () => buildC('sigstorm', [source]);
const addon = () => buildC('sigstorm-addon', [source], { shared: true, suffix: '.node', includes: ['/usr/include/node'], libs: ['-DSIGSTORM_ADDON'] });
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

    test('the same storm in a Node process under activate(), native threads and handlers reporting to onBlocked: never waits for itself', async () => {
        const run = async (policy) => {
            const r = await inFreshNode(
                `let events = 0;
                ${policy ? `t.activate({ ...${JSON.stringify(policy)}, allowLocalhost: false, onBlocked: () => events++ });` : ''}
                const storm = require(${JSON.stringify(addon())});
                const result = JSON.parse(storm.storm('127.0.0.3', 9, 2000));
                await new Promise((r) => setTimeout(r, 200));
                print({ ...result, events });`,
                { env: { TETHERED_LOG: '/dev/null' } },
            );
            assert.equal(r.signal, null, `killed: it hung (${r.stdout})`);
            assert.equal(r.code, 0, `${r.stdout}\n${r.stderr.slice(0, 2000)}`);
            return r.results[0];
        };
        const off = await run(null);
        assert.ok(off.reached > 0 && off.refused === 0 && off.handled > 0 && off.events === 0, JSON.stringify(off));
        const blocked = await run({ allow: ['127.0.0.2'] });
        assert.ok(blocked.refused > 0 && blocked.reached === 0 && blocked.handled > 0 && blocked.events > 0, JSON.stringify(blocked));
        const logged = await run({ allow: ['127.0.0.2'], logOnly: true });
        assert.ok(logged.reached > 0 && logged.refused === 0 && logged.handled > 0 && logged.events > 0, JSON.stringify(logged));
    });
});
