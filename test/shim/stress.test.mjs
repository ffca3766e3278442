// Concurrency: 8 threads x 10,000 connects under the shim, with no crash, no hang and no lost event.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { netprobe, runUnderShim, tcpServer } from '../helpers/shim.mjs';

const THREADS = 8;
const EACH = 10000;

describe('the shim under load', { skip: NEEDS_NETNS }, () => {
    let server;
    before(async () => {
        server = await tcpServer('127.0.0.2');
    });
    after(() => server.close());

    test(`${THREADS} threads x ${EACH} blocked connects: every one blocked, every one logged`, async () => {
        const r = await runUnderShim(netprobe(), ['threads', String(THREADS), String(EACH), '127.0.0.3', '9'], { TETHERED_ALLOW_LOCALHOST: '0', TETHERED_ALLOW: '' }, { timeoutMs: 120000 });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `ok 0 ${THREADS * EACH} 0`);
        assert.equal(r.events.length, THREADS * EACH);
        assert.ok(r.events.every((e) => e.decision === 'block' && e.ip === '127.0.0.3' && e.port === 9));
        assert.equal(new Set(r.events.map((e) => e.tid)).size, THREADS);
    });

    test(`${THREADS} threads x ${EACH} allowed connects: every one reaches the kernel`, async () => {
        // A closed port: each connect is allowed by the shim and refused by the kernel, quickly.
        const r = await runUnderShim(netprobe(), ['threads', String(THREADS), String(EACH), '127.0.0.3', '9'], { TETHERED_ALLOW_LOCALHOST: '0', TETHERED_ALLOW: '127.0.0.3' }, { timeoutMs: 120000 });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout, `ok 0 0 ${THREADS * EACH}`);
        assert.deepEqual(r.events, []);
    });

    test(`${THREADS} threads x 1,000 connects to a live server in log mode: all connect, all reported`, async () => {
        const r = await runUnderShim(netprobe(), ['threads', String(THREADS), '1000', '127.0.0.2', String(server.port)], {
            TETHERED_ALLOW_LOCALHOST: '0',
            TETHERED_ALLOW: '',
            TETHERED_MODE: 'log',
        }, { timeoutMs: 120000 });
        assert.equal(r.stdout, `ok ${THREADS * 1000} 0 0`);
        assert.equal(r.events.length, THREADS * 1000);
    });
});
