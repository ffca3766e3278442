// activate() without LD_PRELOAD: the addon loads the shim and patches the running process, so JavaScript,
// native addons already loaded, libraries dlopen()ed later, and threads started before are all judged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { tcpServer, udpServer } from '../helpers/shim.mjs';

const EACCES = 13;

describe('activate() in-process', { skip: NEEDS_NETNS }, () => {
    let tcp;
    let udp;
    before(async () => {
        tcp = await tcpServer('127.0.0.2');
        udp = await udpServer('127.0.0.2');
    });
    after(async () => {
        await tcp.close();
        await udp.close();
    });

    test('patches the process and blocks JavaScript and native connects, on the main thread and on others', async () => {
        const r = await inFreshNode(`
            const blocked = [];
            t.activate({ allow: ['other.example.test'], allowLocalhost: false, onBlocked: (e) => blocked.push(e) });
            const s = t.status();
            print({ layer: s.layer, active: s.active, patched: s.patchedSlots > 0, preload: process.env.LD_PRELOAD.includes('libtethered.so') });
            print({ js: await connectJs('127.0.0.2', ${tcp.port}) });
            print({ native: addon.connectTo('127.0.0.2', ${tcp.port}) });
            print({ thread: addon.connectOnThread('127.0.0.2', ${tcp.port}) });
            print({ syscall: addon.syscallConnect('127.0.0.2', ${tcp.port}) });
            print({ udp: addon.udpSendto('127.0.0.2', ${udp.port}) });
            await tick();
            print({ events: blocked.map((e) => [e.decision, e.op, e.ip, e.port]) });
        `);
        assert.equal(r.code, 0, r.stderr);
        const [state, js, native, thread, sys, dgram, events] = r.results;
        assert.deepEqual(state, { layer: 'in-process', active: true, patched: true, preload: true });
        assert.deepEqual(js, { js: 'EACCES' });
        assert.deepEqual(native, { native: EACCES });
        assert.deepEqual(thread, { thread: EACCES });
        assert.deepEqual(sys, { syscall: EACCES });
        assert.deepEqual(dgram, { udp: EACCES });
        assert.deepEqual(events.events, [
            ['block', 'connect', '127.0.0.2', tcp.port],
            ['block', 'connect', '127.0.0.2', tcp.port],
            ['block', 'connect', '127.0.0.2', tcp.port],
            ['block', 'syscall(connect)', '127.0.0.2', tcp.port],
            ['block', 'sendto', '127.0.0.2', udp.port],
        ]);
    });

    test('allows what the rules allow: the same calls connect', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            print([await connectJs('127.0.0.2', ${tcp.port}), addon.connectTo('127.0.0.2', ${tcp.port}), addon.connectOnThread('127.0.0.2', ${tcp.port}), addon.syscallConnect('127.0.0.2', ${tcp.port}), addon.udpSendto('127.0.0.2', ${udp.port})]);
        `);
        assert.deepEqual(r.results, [['ok', 0, 0, 0, 0]], r.stderr);
    });

    test('logOnly lets everything through and reports each attempt once', async () => {
        const r = await inFreshNode(`
            const seen = [];
            t.activate({ allow: [], allowLocalhost: false, logOnly: true, onBlocked: (e) => seen.push(e.decision) });
            print([await connectJs('127.0.0.2', ${tcp.port}), addon.connectTo('127.0.0.2', ${tcp.port})]);
            await tick();
            print(seen);
        `);
        assert.deepEqual(r.results, [['ok', 0], ['would-block', 'would-block']], r.stderr);
    });

    test('a library dlopen()ed after activate() is patched before it can connect', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: [], allowLocalhost: false });
            print(addon.dlopenConnect(probeLibrary, '127.0.0.2', ${tcp.port}));
        `);
        assert.deepEqual(r.results, [EACCES], r.stderr);
    });

    test('a thread started before activate() is judged from its next call', async () => {
        const r = await inFreshNode(`
            addon.startWaitingThread('127.0.0.2', ${tcp.port});
            t.activate({ allow: [], allowLocalhost: false });
            print(addon.releaseWaitingThread());
        `);
        assert.deepEqual(r.results, [EACCES], r.stderr);
    });

    test('deactivate() lifts the policy; activate() replaces it', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: [], allowLocalhost: false });
            print(addon.connectTo('127.0.0.2', ${tcp.port}));
            t.activate({ allow: ['127.0.0.2:${tcp.port}'], allowLocalhost: false });
            print(addon.connectTo('127.0.0.2', ${tcp.port}));
            t.activate({ allow: [], allowLocalhost: false });
            print(addon.connectTo('127.0.0.2', ${tcp.port}));
            t.deactivate();
            print(addon.connectTo('127.0.0.2', ${tcp.port}));
            print(t.status().active);
        `);
        assert.deepEqual(r.results, [EACCES, 0, EACCES, 0, false], r.stderr);
    });

    test('a bad rule throws InvalidRuleError and leaves the policy in force', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: [], allowLocalhost: false });
            try { t.activate({ allow: ['https://api.example.test'] }); } catch (e) { print([e.name, e.code]); }
            print(addon.connectTo('127.0.0.2', ${tcp.port}));
        `);
        assert.deepEqual(r.results, [['InvalidRuleError', 'ERR_TETHERED_INVALID_RULE'], EACCES], r.stderr);
    });

    test('a locked policy refuses activate() and deactivate() without its very token', async () => {
        const r = await inFreshNode(`
            const token = {};
            const attempt = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.name; } };
            print(attempt(() => t.activate({ allow: [], locked: true })));
            print(attempt(() => t.activate({ allow: [], allowLocalhost: false, locked: true, lockToken: token })));
            print(attempt(() => t.activate({ allow: ['127.0.0.2'] })));
            print(attempt(() => t.activate({ allow: ['127.0.0.2'], lockToken: {} })));
            print(attempt(() => t.deactivate()));
            print(attempt(() => t.deactivate({ lockToken: {} })));
            print(addon.connectTo('127.0.0.2', ${tcp.port}));
            print(t.status().locked);
            print(attempt(() => t.deactivate({ lockToken: token })));
            print(addon.connectTo('127.0.0.2', ${tcp.port}));
        `);
        assert.deepEqual(r.results, ['TypeError', 'ok', 'TetheredLocked', 'TetheredLocked', 'TetheredLocked', 'TetheredLocked', EACCES, true, 'ok', 0], r.stderr);
    });

    test('children inherit the shim and the policy, even with an empty environment; not with children: none', async () => {
        const r = await inFreshNode(`
            const { spawnSync } = require('node:child_process');
            const curl = (env) => spawnSync('/usr/bin/curl', ['-sS', '--max-time', '3', 'http://127.0.0.2:${tcp.port}/'], { env, encoding: 'utf8' }).stderr;
            t.activate({ allow: [], allowLocalhost: false });
            print(/Failed to connect|Permission denied|Couldn't connect/.test(curl(process.env)));
            print(/Failed to connect|Permission denied|Couldn't connect/.test(curl({})));
            t.activate({ allow: [], allowLocalhost: false, children: 'none' });
            print(/Failed to connect|Permission denied|Couldn't connect/.test(curl({})));
        `);
        assert.deepEqual(r.results, [true, true, false], r.stderr);
    });

    test('when the shim is already preloaded, activate() drives it instead of patching', async () => {
        const r = await inFreshNode(
            `
            t.activate({ allow: [], allowLocalhost: false });
            const s = t.status();
            print([s.layer, s.patchedSlots, addon.connectTo('127.0.0.2', ${tcp.port})]);
            t.deactivate();
            print(addon.connectTo('127.0.0.2', ${tcp.port}));
        `,
            { preload: true, env: { TETHERED_ALLOW: '127.0.0.0/8' } },
        );
        assert.deepEqual(r.results, [['preload', 0, EACCES], 0], r.stderr);
    });
});
