// BYPASSES N1–N5, N7, N8 in-process: native code calling libc directly after activate() (no LD_PRELOAD) —
// a native addon on the JavaScript thread and on its own thread, a library dlopen()ed after activate(), a
// thread started before it — each blocked, reported once in log mode, and allowed by a rule.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { serve, tcpServer, udpServer } from '../helpers/shim.mjs';

const EACCES = 13;
const EAI_FAIL = -4;

describe('native code in an activate()d process', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2'), udp: () => udpServer('127.0.0.2') });

    // [row, what, [setup before activate()], call, rule that allows it, what a block returns]
    const SCENARIOS = [
        ['N1', "a native addon's connect() on the JavaScript thread", () => '', () => `addon.connectTo('127.0.0.2', ${s.tcp.port})`, () => `127.0.0.2:${s.tcp.port}`, EACCES],
        ['N1', "a native addon's connect() on its own pthread", () => '', () => `addon.connectOnThread('127.0.0.2', ${s.tcp.port})`, () => `127.0.0.2:${s.tcp.port}`, EACCES],
        ['N1', "a native addon's connect() on a thread with a descriptor table of its own, its descriptors closed (the loop's wake-up is not in it)", () => '', () => `addon.connectOwnFiles('127.0.0.2', ${s.tcp.port})`, () => `127.0.0.2:${s.tcp.port}`, EACCES],
        ['N1', "a native addon's connect() on a thread with a descriptor table of its own that kept its descriptors (its copy of the loop's wake-up works)", () => '', () => `addon.connectOwnFiles('127.0.0.2', ${s.tcp.port}, true)`, () => `127.0.0.2:${s.tcp.port}`, EACCES],
        ['N2', "a native addon's sendto() on an unconnected UDP socket", () => '', () => `addon.udpSendto('127.0.0.2', ${s.udp.port})`, () => `127.0.0.2:${s.udp.port}`, EACCES],
        ['N4', 'syscall(SYS_connect) through libc', () => '', () => `addon.syscallConnect('127.0.0.2', ${s.tcp.port})`, () => `127.0.0.2:${s.tcp.port}`, EACCES],
        ['N5', 'getaddrinfo then connect, from a native addon', () => '', () => `addon.resolveConnect('api.example.test', ${s.tcp.port})`, () => `api.example.test:${s.tcp.port}`, EAI_FAIL],
        ['N7', 'a library dlopen()ed after activate()', () => '', () => `addon.dlopenConnect(probeLibrary, '127.0.0.2', ${s.tcp.port})`, () => `127.0.0.2:${s.tcp.port}`, EACCES],
        ['N8', 'a thread started before activate()', () => `addon.startWaitingThread('127.0.0.2', ${s.tcp.port});`, () => 'addon.releaseWaitingThread()', () => `127.0.0.2:${s.tcp.port}`, EACCES],
    ];

    for (const [row, what, setup, call, ruleFor, blockedAnswer] of SCENARIOS) {
        test(`${row} ${what}: blocked, reported once in log mode, allowed by a rule`, async () => {
            const run = async (policy) => {
                const r = await inFreshNode(`
                    const seen = [];
                    ${setup()}
                    t.activate({ ...${JSON.stringify(policy)}, allowLocalhost: false, onBlocked: (e) => seen.push(e.decision) });
                    print(${call()});
                    await tick();
                    print(seen);
                `);
                assert.equal(r.code, 0, r.stderr);
                return r.results;
            };
            assert.deepEqual(await run({ allow: ['other.example.test'] }), [blockedAnswer, ['block']]);
            const [logged, seen] = await run({ allow: [], logOnly: true });
            assert.equal(logged, 0);
            assert.ok(seen.length >= 1 && seen.every((d) => d === 'would-block'), JSON.stringify(seen));
            assert.equal(seen.length, row === 'N5' ? 2 : 1, 'one event per attempt (a lookup and a connect are two)');
            assert.deepEqual(await run({ allow: [ruleFor()] }), [0, []]);
        });
    }
});
