// The supervisor's memory stays flat (issue 10 item 6): its resident size, peak, descriptors and threads
// after a warm-up, after 100,000 judged calls from 4 threads, and after 1,000 short-lived child processes.
// Every verdict is checked too (half the calls are refused by the policy, half allowed).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildC, root } from '../helpers/cbuild.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { strictBinary } from './programs.mjs';

const CALLS = 100_000;
const CHILDREN = 1_000;
/** How much the supervisor may grow between the warm-up and the end: far below what a leak of one object
 * per call (100,000 × even 16 bytes = 1.6 MB) or per child would leave. */
const RSS_BOUND_KB = 512;
const PORT = 40000; // UDP connects send nothing: no server is needed

function snapshot(pid) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1]);
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM'), threads: field('Threads'), fds: readdirSync(`/proc/${pid}/fd`).length };
}

describe('the supervisor under load', { skip: NEEDS_NETNS }, () => {
    test(`memory, descriptors and threads stay flat over ${CALLS} judged calls and ${CHILDREN} child processes; no wrong verdict`, { timeout: 60_000 }, async () => {
        const load = buildC('memload', [join(root, 'test/strict/c/memload.c')], { libs: ['-static'] });
        const child = spawn(strictBinary, ['--', load, '127.0.0.2', String(PORT), String(CALLS), String(CHILDREN)], {
            env: { ...process.env, TETHERED_ALLOW: `127.0.0.2:${PORT}`, TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: 'off' },
            stdio: ['pipe', 'pipe', 'inherit'],
        });
        const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
        const seen = {};
        for (const phase of ['warm-up', 'calls', 'children']) {
            const { value } = await lines.next();
            const [name, wrong] = String(value).split(' ');
            assert.equal(name, phase);
            seen[phase] = { wrong: Number(wrong), ...snapshot(child.pid) };
            child.stdin.write('go\n');
        }
        const [code] = await once(child, 'exit');
        assert.equal(code, 0);
        const report = JSON.stringify(seen);
        for (const phase of ['warm-up', 'calls', 'children']) assert.equal(seen[phase].wrong, 0, report);
        const base = seen['warm-up'];
        for (const phase of ['calls', 'children']) {
            assert.ok(seen[phase].rssKb - base.rssKb <= RSS_BOUND_KB, `VmRSS grew: ${report}`);
            assert.ok(seen[phase].hwmKb - base.hwmKb <= RSS_BOUND_KB, `VmHWM grew: ${report}`);
            // kept pidfds (at most 64), the idle workers (a few): bounded, whatever the number of calls
            assert.ok(seen[phase].fds <= 64 + 16, `descriptors: ${report}`);
            assert.ok(seen[phase].threads <= 8, `threads: ${report}`);
        }
        console.log(`# supervisor: ${report}`);
    });
});
