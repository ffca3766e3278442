// activate() without LD_PRELOAD: the addon loads the shim and patches the running process, so JavaScript,
// native addons already loaded, libraries dlopen()ed later, and threads started before are all judged.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { root } from '../helpers/cbuild.mjs';
import { runUnderShim, serve, shim, tcpServer, udpServer } from '../helpers/shim.mjs';

const EACCES = 13;

describe('activate() in-process', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2'), udp: () => udpServer('127.0.0.2') });

    test('patches the process and blocks JavaScript and native connects, on the main thread and on others', async () => {
        const r = await inFreshNode(`
            const blocked = [];
            t.activate({ allow: ['other.example.test'], allowLocalhost: false, onBlocked: (e) => blocked.push(e) });
            const s = t.status();
            print({ layer: s.layer, active: s.active, patched: s.patchedSlots > 0, preload: process.env.LD_PRELOAD.includes('libtethered.so') });
            print({ js: await connectJs('127.0.0.2', ${s.tcp.port}) });
            print({ native: addon.connectTo('127.0.0.2', ${s.tcp.port}) });
            print({ thread: addon.connectOnThread('127.0.0.2', ${s.tcp.port}) });
            print({ syscall: addon.syscallConnect('127.0.0.2', ${s.tcp.port}) });
            print({ udp: addon.udpSendto('127.0.0.2', ${s.udp.port}) });
            await tick();
            print({ events: blocked.map((e) => [e.decision, e.op, e.ip, e.port]) });
        `);
        assert.equal(r.code, 0, r.stderr);
        const [state, js, native, thread, sys, dgram, events] = r.results;
        assert.deepEqual(state, { layer: 'in-process', active: true, patched: true, preload: true });
        assert.deepEqual(js, { js: 'ERR_EGRESS_BLOCKED' });
        assert.deepEqual(native, { native: EACCES });
        assert.deepEqual(thread, { thread: EACCES });
        assert.deepEqual(sys, { syscall: EACCES });
        assert.deepEqual(dgram, { udp: EACCES });
        assert.deepEqual(events.events, [
            ['block', 'connect', '127.0.0.2', s.tcp.port],
            ['block', 'connect', '127.0.0.2', s.tcp.port],
            ['block', 'connect', '127.0.0.2', s.tcp.port],
            ['block', 'syscall(connect)', '127.0.0.2', s.tcp.port],
            ['block', 'sendto', '127.0.0.2', s.udp.port],
        ]);
    });

    test('allows what the rules allow: the same calls connect', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            print([await connectJs('127.0.0.2', ${s.tcp.port}), addon.connectTo('127.0.0.2', ${s.tcp.port}), addon.connectOnThread('127.0.0.2', ${s.tcp.port}), addon.syscallConnect('127.0.0.2', ${s.tcp.port}), addon.udpSendto('127.0.0.2', ${s.udp.port})]);
        `);
        assert.deepEqual(r.results, [['ok', 0, 0, 0, 0]], r.stderr);
    });

    test('logOnly lets everything through and reports each attempt once', async () => {
        const r = await inFreshNode(`
            const seen = [];
            t.activate({ allow: [], allowLocalhost: false, logOnly: true, onBlocked: (e) => seen.push(e.decision) });
            print([await connectJs('127.0.0.2', ${s.tcp.port}), addon.connectTo('127.0.0.2', ${s.tcp.port})]);
            await tick();
            print(seen);
        `);
        assert.deepEqual(r.results, [['ok', 0], ['would-block', 'would-block']], r.stderr);
    });

    test('a library dlopen()ed after activate() is patched before it can connect', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: [], allowLocalhost: false });
            print(addon.dlopenConnect(probeLibrary, '127.0.0.2', ${s.tcp.port}));
        `);
        assert.deepEqual(r.results, [EACCES], r.stderr);
    });

    test('a thread started before activate() is judged from its next call', async () => {
        const r = await inFreshNode(`
            addon.startWaitingThread('127.0.0.2', ${s.tcp.port});
            t.activate({ allow: [], allowLocalhost: false });
            print(addon.releaseWaitingThread());
        `);
        assert.deepEqual(r.results, [EACCES], r.stderr);
    });

    test('deactivate() lifts the policy; activate() replaces it', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: [], allowLocalhost: false });
            print(addon.connectTo('127.0.0.2', ${s.tcp.port}));
            t.activate({ allow: ['127.0.0.2:${s.tcp.port}'], allowLocalhost: false });
            print(addon.connectTo('127.0.0.2', ${s.tcp.port}));
            t.activate({ allow: [], allowLocalhost: false });
            print(addon.connectTo('127.0.0.2', ${s.tcp.port}));
            t.deactivate();
            print(addon.connectTo('127.0.0.2', ${s.tcp.port}));
            print(t.status().active);
        `);
        assert.deepEqual(r.results, [EACCES, 0, EACCES, 0, false], r.stderr);
    });

    test('a bad rule throws InvalidRuleError and leaves the policy in force', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: [], allowLocalhost: false });
            try { t.activate({ allow: ['https://api.example.test'] }); } catch (e) { print([e.name, e.code]); }
            print(addon.connectTo('127.0.0.2', ${s.tcp.port}));
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
            print(addon.connectTo('127.0.0.2', ${s.tcp.port}));
            print(t.status().locked);
            print(attempt(() => t.deactivate({ lockToken: token })));
            print(addon.connectTo('127.0.0.2', ${s.tcp.port}));
        `);
        assert.deepEqual(r.results, ['TypeError', 'ok', 'TetheredLocked', 'TetheredLocked', 'TetheredLocked', 'TetheredLocked', EACCES, true, 'ok', 0], r.stderr);
    });

    test('children inherit the shim and the policy, even with an empty environment; not with children: none', async () => {
        const r = await inFreshNode(`
            const { spawnSync } = require('node:child_process');
            const curl = (env) => spawnSync('/usr/bin/curl', ['-sS', '--max-time', '3', 'http://127.0.0.2:${s.tcp.port}/'], { env, encoding: 'utf8' }).stderr;
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
            print([s.layer, s.patchedSlots, addon.connectTo('127.0.0.2', ${s.tcp.port})]);
            t.deactivate();
            print(addon.connectTo('127.0.0.2', ${s.tcp.port}));
        `,
            { preload: true, env: { TETHERED_ALLOW: '127.0.0.0/8' } },
        );
        assert.deepEqual(r.results, [['preload', 0, EACCES], 0], r.stderr);
    });

    test('a libtethered.so preloaded from another path is the one activate() drives (never two shims)', async () => {
        const copy = join(mkdtempSync(join(tmpdir(), 'tethered-copy-')), 'libtethered.so');
        copyFileSync(shim().path, copy);
        const r = await inFreshNode(
            `
            t.activate({ allow: [], allowLocalhost: false });
            const s = t.status();
            print([s.layer, s.patchedSlots, addon.connectTo('127.0.0.2', ${s.tcp.port})]);
        `,
            { env: { LD_PRELOAD: copy, TETHERED_ALLOW: '127.0.0.0/8' } },
        );
        assert.deepEqual(r.results, [['preload', 0, EACCES]], r.stderr);
    });
});

describe('errors JavaScript callers get', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2') });

    test('net, http, fetch and dns callers get an EgressBlocked that names the destination and the fix', async () => {
        const r = await inFreshNode(`
            const http = require('node:http');
            const dns = require('node:dns');
            const pick = (e) => e && { name: e.name, code: e.code, host: e.host, ip: e.ip, port: e.port, protocol: e.protocol, rule: e.rule, message: e.message, cause: e.cause && e.cause.code };
            t.activate({ allow: ['other.example.test'], allowLocalhost: false });
            print(await new Promise((r) => net.connect(${s.tcp.port}, '127.0.0.2').on('error', (e) => r(pick(e)))));
            print(await new Promise((r) => net.connect(${s.tcp.port}, 'api.example.test').on('error', (e) => r(pick(e)))));
            print(await new Promise((r) => http.get('http://127.0.0.2:${s.tcp.port}/').on('error', (e) => r(pick(e)))));
            print(await fetch('http://127.0.0.2:${s.tcp.port}/').then(() => null, (e) => pick(e.cause)));
            print(await dns.promises.lookup('evil.example.test').then(() => null, pick));
            print(await new Promise((r) => dns.lookup('evil.example.test', (e) => r(pick(e)))));
            t.activate({ allow: ['api.example.test:1'], allowLocalhost: false });
            print(await new Promise((r) => net.connect(${s.tcp.port}, 'api.example.test').on('error', (e) => r(pick(e)))));
        `);
        assert.equal(r.code, 0, r.stderr);
        const [ip, name, http, fetched, promised, callback, byName] = r.results;
        const byAddress = {
            name: 'EgressBlocked',
            code: 'ERR_EGRESS_BLOCKED',
            host: null,
            ip: '127.0.0.2',
            port: s.tcp.port,
            protocol: 'tcp',
            rule: `127.0.0.2:${s.tcp.port}`,
            message: `Blocked by tethered: 127.0.0.2:${s.tcp.port} is not in the allow list — allow it with '127.0.0.2:${s.tcp.port}'`,
            cause: 'EACCES',
        };
        assert.deepEqual(ip, byAddress);
        assert.deepEqual(http, byAddress);
        assert.deepEqual(fetched, byAddress);
        const lookup = (host) => ({
            name: 'EgressBlocked',
            code: 'ERR_EGRESS_BLOCKED',
            host,
            ip: null,
            port: null,
            protocol: 'dns',
            rule: host,
            message: `Blocked by tethered: ${host} is not in the allow list — allow it with '${host}'`,
            cause: 'EAI_FAIL',
        });
        assert.deepEqual(name, lookup('api.example.test'));
        assert.deepEqual(promised, lookup('evil.example.test'));
        assert.deepEqual(callback, lookup('evil.example.test'));
        assert.deepEqual(byName, {
            ...byAddress,
            host: 'api.example.test',
            rule: `api.example.test:${s.tcp.port}`,
            message: `Blocked by tethered: api.example.test:${s.tcp.port} (127.0.0.2) is not in the allow list — allow it with 'api.example.test:${s.tcp.port}'`,
        });
    });

    test('dns.lookup keeps its shape: util.promisify, options, all: true', async () => {
        const r = await inFreshNode(`
            const dns = require('node:dns');
            const { promisify } = require('node:util');
            t.activate({ allow: ['api.example.test'], allowLocalhost: false });
            print(await promisify(dns.lookup)('api.example.test'));
            print(await new Promise((r) => dns.lookup('api.example.test', { all: true, family: 4 }, (e, a) => r(a))));
            print(await new Promise((r) => dns.lookup('api.example.test', 4, (e, a, f) => r([a, f]))));
        `);
        assert.deepEqual(r.results, [{ address: '127.0.0.2', family: 4 }, [{ address: '127.0.0.2', family: 4 }], ['127.0.0.2', 4]], r.stderr);
    });

    test('ESM callers too: named imports of node:dns and node:worker_threads see the wrappers', async () => {
        const script = `
            import * as t from ${JSON.stringify(join(root, 'dist', 'index.mjs'))};
            import { lookup } from 'node:dns';
            import { Worker } from 'node:worker_threads';
            t.activate({ allow: ['other.example.test'], allowLocalhost: false });
            const viaLookup = await new Promise((r) => lookup('evil.example.test', (e) => r(e && e.code)));
            const inWorker = await new Promise((r) => new Worker("import { lookup } from 'node:dns'; import { parentPort } from 'node:worker_threads'; lookup('evil.example.test', (e) => parentPort.postMessage(e && e.code));", { eval: true }).on('message', r));
            console.log(JSON.stringify([viaLookup, inWorker]));
        `;
        const r = await runUnderShim(process.execPath, ['--input-type=module', '-e', script], { TETHERED_LOG: undefined }, { preload: false });
        assert.deepEqual(JSON.parse(r.stdout || 'null'), ['ERR_EGRESS_BLOCKED', 'ERR_EGRESS_BLOCKED'], r.stderr);
    });

    test('errors that are not blocks pass through untouched', async () => {
        const r = await inFreshNode(`
            t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            print(await connectJs('127.0.0.2', 1));
        `);
        assert.deepEqual(r.results, ['ECONNREFUSED']);
    });
});

describe('other threads of the process', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2') });

    test('T1 a worker thread using net and fetch is judged like the main thread (blocked, logged, allowed)', async () => {
        const r = await inFreshNode(`
            const { Worker } = require('node:worker_threads');
            const inWorker = () => new Promise((resolve) => {
                const w = new Worker(\`
                    const net = require('node:net');
                    const { parentPort } = require('node:worker_threads');
                    (async () => {
                        const viaNet = await new Promise((r) => { const s = net.connect(${s.tcp.port}, '127.0.0.2'); s.on('connect', () => { s.destroy(); r('ok'); }); s.on('error', (e) => r(e.code)); });
                        const viaFetch = await fetch('http://127.0.0.2:${s.tcp.port}/').then(() => 'ok', (e) => (e.cause && e.cause.code) || e.message);
                        parentPort.postMessage([viaNet, viaFetch]);
                    })();
                \`, { eval: true });
                w.on('message', resolve);
            });
            const seen = [];
            t.activate({ allow: [], allowLocalhost: false, onBlocked: (e) => seen.push(e.decision) });
            print(await inWorker());
            t.activate({ allow: [], allowLocalhost: false, logOnly: true, onBlocked: (e) => seen.push(e.decision) });
            const logged = await inWorker();
            print(logged[0]);
            t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            print((await inWorker())[0]);
            await tick();
            print(seen);
        `);
        assert.equal(r.code, 0, r.stderr);
        const [blocked, logged, allowed, seen] = r.results;
        assert.deepEqual(blocked, ['ERR_EGRESS_BLOCKED', 'ERR_EGRESS_BLOCKED'], 'worker callers get EgressBlocked too');
        assert.equal(logged, 'ok');
        assert.equal(allowed, 'ok');
        assert.deepEqual(seen.slice(0, 2), ['block', 'block']);
        assert.ok(seen.includes('would-block'));
    });

    test('T2 the libuv pool: dns.lookup runs getaddrinfo there, blocked, logged, allowed, off the main thread', async () => {
        const r = await inFreshNode(`
            const dns = require('node:dns');
            const seen = [];
            const lookup = () => new Promise((r) => dns.lookup('api.example.test', (e, a) => r(e ? e.code : a)));
            t.activate({ allow: [], allowLocalhost: false, onBlocked: (e) => seen.push([e.decision, e.op, e.host, e.tid !== process.pid]) });
            print(await lookup());
            await tick(); // events from the pool reach onBlocked asynchronously
            t.activate({ allow: [], allowLocalhost: false, logOnly: true, onBlocked: (e) => seen.push([e.decision, e.op, e.host, e.tid !== process.pid]) });
            print(await lookup());
            await tick();
            t.activate({ allow: ['api.example.test'], allowLocalhost: false, onBlocked: (e) => seen.push(e) });
            print(await lookup());
            await tick();
            print(seen);
        `);
        assert.equal(r.stderr, '', 'no event line on stderr: TETHERED_LOG is not set');
        assert.deepEqual(r.results, ['ERR_EGRESS_BLOCKED', '127.0.0.2', '127.0.0.2', [['block', 'getaddrinfo', 'api.example.test', true], ['would-block', 'getaddrinfo', 'api.example.test', true]]], r.stderr);
    });

    test('T3 a native thread calling getaddrinfo and connect: blocked, logged, allowed', async () => {
        const r = await inFreshNode(`
            const seen = [];
            const collect = (e) => seen.push([e.decision, e.op, e.host, e.tid !== process.pid]);
            t.activate({ allow: [], allowLocalhost: false, onBlocked: collect });
            print(addon.resolveConnectOnThread('api.example.test', ${s.tcp.port}));
            t.activate({ allow: ['api.example.test:1'], allowLocalhost: false, onBlocked: collect });
            print(addon.resolveConnectOnThread('api.example.test', ${s.tcp.port}));
            t.activate({ allow: [], allowLocalhost: false, logOnly: true, onBlocked: collect });
            print(addon.resolveConnectOnThread('api.example.test', ${s.tcp.port}));
            t.activate({ allow: ['api.example.test:${s.tcp.port}'], allowLocalhost: false, onBlocked: collect });
            print(addon.resolveConnectOnThread('api.example.test', ${s.tcp.port}));
            await tick();
            print(seen);
        `);
        assert.deepEqual(r.results, [-4 /* EAI_FAIL */, EACCES, 0, 0, [
            ['block', 'getaddrinfo', 'api.example.test', true],
            ['block', 'connect', 'api.example.test', true],
            ['would-block', 'getaddrinfo', 'api.example.test', true],
            ['would-block', 'connect', 'api.example.test', true],
        ]], r.stderr);
    });
});
