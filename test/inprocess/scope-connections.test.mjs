// A scope judges what is sent on a connection opened before it, outside it: a keep-alive pool's (fetch's
// own, an http.Agent's, an https.Agent's over TLS), an HTTP/2 session's, a net.Socket's, a connected UDP
// socket's. Each path:
// the same requests get through with tethered off, reusing the connection (the positive control); inside
// noEgress() they are blocked before a byte reaches the peer (enforce), go through and are reported once
// (log-only), and go through with no event where the scope allows the peer. A server replying inside a
// scope is not judged: an accepted connection carries nothing it was not asked for. And work Node queues
// (an http.Agent's waiting requests, a dgram socket's sends before its bind finished) is done in the scope
// it was asked in, not in the callback's of whatever freed the queue.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';

describe('scope() on connections opened before it', { skip: NEEDS_NETNS }, () => {
    let tls;
    before(() => {
        // a throw-away certificate for api.example.test (127.0.0.2 in the test /etc/hosts), made here
        const dir = mkdtempSync(join(tmpdir(), 'tethered-tls-'));
        tls = { key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem') };
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=api.example.test', '-addext', 'subjectAltName=DNS:api.example.test', '-keyout', tls.key, '-out', tls.cert], { stdio: 'ignore' });
    });

    // Each: a server on 127.0.0.2 counting what reaches it (`hits`) and its new connections (`conns`), and
    // `go()`, one request (or message) on a connection that the first go(), outside every scope, opens.
    const http = `
        const server = require('node:http').createServer((req, res) => { hits++; res.end('ok'); });
        server.on('connection', () => conns++);
        await new Promise((r) => server.listen(0, '127.0.0.2', r));
        const url = 'http://127.0.0.2:' + server.address().port + '/';`;
    const SCENARIOS = [
        ['fetch() through its own keep-alive pool', () => `${http}
            const go = () => fetch(url).then((r) => r.text());`],
        ['http.get through a keep-alive http.Agent', () => `${http}
            const agent = new (require('node:http').Agent)({ keepAlive: true });
            const go = () => new Promise((resolve, reject) => require('node:http').get(url, { agent }, (res) => { res.resume(); res.on('end', () => resolve('ok')); }).on('error', reject));`],
        ['https.get through a keep-alive https.Agent (TLS)', () => `
            const { readFileSync } = require('node:fs');
            const https = require('node:https');
            const server = https.createServer({ key: readFileSync(${JSON.stringify(tls.key)}), cert: readFileSync(${JSON.stringify(tls.cert)}) }, (req, res) => { hits++; res.end('ok'); });
            server.on('secureConnection', () => conns++);
            await new Promise((r) => server.listen(0, '127.0.0.2', r));
            const agent = new https.Agent({ keepAlive: true, ca: readFileSync(${JSON.stringify(tls.cert)}) });
            const go = () => new Promise((resolve, reject) => https.get({ host: 'api.example.test', port: server.address().port, path: '/', agent }, (res) => { res.resume(); res.on('end', () => resolve('ok')); }).on('error', reject));`],
        ['an HTTP/2 session opened before', () => `
            const http2 = require('node:http2');
            const server = http2.createServer((req, res) => { hits++; res.end('ok'); });
            server.on('session', () => conns++);
            await new Promise((r) => server.listen(0, '127.0.0.2', r));
            let session; // opened by the first go(), outside every scope (after tethered's wrappers are in)
            const go = () => new Promise((resolve, reject) => { session ??= http2.connect('http://127.0.0.2:' + server.address().port); const r = session.request({ ':path': '/' }); r.on('error', reject); r.resume(); r.on('end', () => resolve('ok')); });`],
        ['net.Socket#write on a socket connected before', () => `
            const server = require('node:net').createServer((c) => { conns++; c.on('data', () => hits++); c.on('error', () => {}); });
            await new Promise((r) => server.listen(0, '127.0.0.2', r));
            let socket, failed = null; // connected by the first go(), outside every scope
            const go = async () => {
                if (!socket) {
                    socket = net.connect({ host: '127.0.0.2', port: server.address().port });
                    socket.on('error', (e) => (failed = e));
                    await new Promise((r) => socket.on('connect', r));
                }
                return new Promise((resolve, reject) => socket.write('x', (e) => (e || failed ? reject(e || failed) : resolve('ok'))));
            };`],
        ['dgram send on a connected UDP socket', () => `
            const dgram = require('node:dgram');
            const server = dgram.createSocket('udp4');
            server.on('message', () => hits++);
            await new Promise((r) => server.bind(0, '127.0.0.2', r));
            const socket = dgram.createSocket('udp4');
            await new Promise((r) => socket.connect(server.address().port, '127.0.0.2', r));
            const go = () => new Promise((resolve, reject) => socket.send('x', (e) => (e ? reject(e) : resolve('ok'))));`],
    ];

    const run = (setup, mode) =>
        inFreshNode(`
            let hits = 0, conns = 0;
            const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
            ${setup()}
            const seen = [];
            if (${JSON.stringify(mode)} !== 'off') t.activate({ allow: ['127.0.0.2', 'api.example.test'], allowLocalhost: false, logOnly: ${JSON.stringify(mode)} === 'log', onBlocked: (e) => seen.push([e.op, e.decision]) });
            await go(); // opens the connection, outside every scope
            await sleep(30);
            const hits0 = hits, conns0 = conns;
            const twice = async () => {
                const out = [];
                for (let i = 0; i < 2; i++) {
                    try { out.push(await go()); } catch (e) { out.push(t.isEgressBlocked(e) ? 'blocked' : String(e.code ?? e.cause?.code ?? e.name)); }
                    await sleep(30);
                }
                return out;
            };
            let results, listed = null;
            if (${JSON.stringify(mode)} === 'off') results = await twice();
            else if (${JSON.stringify(mode)} === 'allowed') results = await t.scope({ allow: ['127.0.0.2', 'api.example.test'], allowLocalhost: false }, twice);
            else results = await t.noEgress({ allowLocalhost: false }, twice).catch((e) => { listed = e.events.map((v) => [v.op, v.decision]); return e.name; });
            await sleep(30);
            print({ results, listed, hits: hits - hits0, conns: conns - conns0, seen });
            process.exit(0);
        `);

    const WRITES = ['write', 'writev', 'send', 'sendmsg', 'sendmmsg', 'http2.request'];
    for (const [what, setup] of SCENARIOS) {
        test(`${what}: reused with tethered off; blocked inside noEgress(), reported once in log mode, allowed by a scope's rule`, async () => {
            const off = await run(setup, 'off');
            assert.equal(off.code, 0, off.stderr);
            assert.deepEqual(off.results[0], { results: ['ok', 'ok'], listed: null, hits: 2, conns: 0, seen: [] }, 'the control: the connection is reused and both reach the peer');

            const blocked = await run(setup, 'enforce');
            assert.equal(blocked.code, 0, blocked.stderr);
            const b = blocked.results[0];
            assert.equal(b.results, 'EgressViolation', JSON.stringify(b));
            assert.equal(b.hits, 0, `nothing reached the peer: ${JSON.stringify(b)}`);
            assert.ok(WRITES.includes(b.listed[0][0]) && b.listed[0][1] === 'block', JSON.stringify(b));
            assert.ok(b.listed.every(([, d]) => d === 'block'), JSON.stringify(b));

            const logged = await run(setup, 'log');
            assert.equal(logged.code, 0, logged.stderr);
            const l = logged.results[0];
            assert.equal(l.results, 'EgressViolation', JSON.stringify(l));
            assert.equal(l.hits, 2, JSON.stringify(l));
            assert.equal(l.conns, 0, JSON.stringify(l));
            assert.equal(l.listed.length, 1, `reported once for two sends on one connection: ${JSON.stringify(l)}`);
            assert.ok(WRITES.includes(l.listed[0][0]) && l.listed[0][1] === 'would-block', JSON.stringify(l));

            const allowed = await run(setup, 'allowed');
            assert.equal(allowed.code, 0, allowed.stderr);
            assert.deepEqual(allowed.results[0], { results: ['ok', 'ok'], listed: null, hits: 2, conns: 0, seen: [] });
        });
    }

    // Work Node queues and does later from another object's callback: in the scope it was asked in.
    const QUEUED = [
        ['an http.Agent request waiting for its one keep-alive socket (maxSockets: 1), which another request holds', `
            const http = require('node:http');
            const server = http.createServer((req, res) => { hits++; setTimeout(() => res.end('ok'), 60); });
            server.on('connection', () => conns++);
            await new Promise((r) => server.listen(0, '127.0.0.2', r));
            const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
            const get = () => new Promise((resolve, reject) => http.get('http://127.0.0.2:' + server.address().port + '/', { agent }, (res) => { res.resume(); res.on('end', () => resolve('ok')); }).on('error', reject));
            await get();
            const hold = () => get();`],
        ['an http.Agent request waiting for a socket (maxTotalSockets: 1, no keep-alive): connected when the other closes', `
            const http = require('node:http');
            const server = http.createServer((req, res) => { hits++; setTimeout(() => res.end('ok'), 60); });
            server.on('connection', () => conns++);
            await new Promise((r) => server.listen(0, '127.0.0.2', r));
            const agent = new http.Agent({ keepAlive: false, maxTotalSockets: 1 });
            const get = () => new Promise((resolve, reject) => http.get('http://127.0.0.2:' + server.address().port + '/', { agent }, (res) => { res.resume(); res.on('end', () => resolve('ok')); }).on('error', reject));
            const hold = () => get();`],
        ["a dgram send made before the socket's bind (started outside) finished", `
            const dgram = require('node:dgram');
            const server = dgram.createSocket('udp4');
            server.on('message', () => hits++);
            await new Promise((r) => server.bind(0, '127.0.0.2', r));
            const socket = dgram.createSocket('udp4');
            const hold = async () => { socket.bind(0, '127.0.0.2'); return 'held'; };
            const get = () => new Promise((resolve, reject) => socket.send('x', server.address().port, '127.0.0.2', (e) => (e ? reject(e) : resolve('ok'))));`],
    ];
    const runQueued = (setup, mode) =>
        inFreshNode(`
            let hits = 0, conns = 0;
            const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
            if (${JSON.stringify(mode)} !== 'off') t.activate({ allow: ['127.0.0.2'], allowLocalhost: false, logOnly: ${JSON.stringify(mode)} === 'log' });
            ${setup}
            const hits0 = hits, conns0 = conns;
            const held = hold(); // outside every scope: holds what the request below waits for
            const once = async () => { try { return await get(); } catch (e) { return t.isEgressBlocked(e) ? 'blocked' : String(e.code ?? e.name); } };
            let result, listed = null;
            if (${JSON.stringify(mode)} === 'off') result = await once();
            else if (${JSON.stringify(mode)} === 'allowed') result = await t.scope({ allow: ['127.0.0.2'], allowLocalhost: false }, once);
            else result = await t.noEgress({ allowLocalhost: false }, once).catch((e) => { listed = e.events.map((v) => [v.op, v.decision]); return e.name; });
            await held;
            await sleep(30);
            print({ result, listed, hits: hits - hits0, conns: conns - conns0 });
            process.exit(0);
        `);
    for (const [what, setup] of QUEUED) {
        test(`${what}: reaches the peer with tethered off; blocked inside noEgress(), reported once in log mode, allowed by a scope's rule`, async () => {
            const held = setup.includes('hold = () => get()') ? 1 : 0; // what the holding request itself sends
            const off = await runQueued(setup, 'off');
            assert.equal(off.code, 0, off.stderr);
            assert.equal(off.results[0].result, 'ok', JSON.stringify(off.results));
            assert.equal(off.results[0].hits, held + 1, JSON.stringify(off.results));

            const blocked = await runQueued(setup, 'enforce');
            assert.equal(blocked.code, 0, blocked.stderr);
            const b = blocked.results[0];
            assert.equal(b.result, 'EgressViolation', JSON.stringify(b));
            assert.equal(b.hits, held, `only what was asked outside reached the peer: ${JSON.stringify(b)}`);
            assert.ok(b.listed.length >= 1 && b.listed.every(([, d]) => d === 'block'), JSON.stringify(b));

            const logged = await runQueued(setup, 'log');
            assert.equal(logged.code, 0, logged.stderr);
            const l = logged.results[0];
            assert.equal(l.result, 'EgressViolation', JSON.stringify(l));
            assert.equal(l.hits, held + 1, JSON.stringify(l));
            assert.equal(l.listed.length, 1, JSON.stringify(l));
            assert.equal(l.listed[0][1], 'would-block', JSON.stringify(l));

            const allowed = await runQueued(setup, 'allowed');
            assert.equal(allowed.code, 0, allowed.stderr);
            assert.deepEqual(allowed.results[0], { ...off.results[0], listed: null });
        });
    }

    test('a server replying inside a scope that allows nothing: the reply is not judged (inbound), a request it makes is', async () => {
        const r = await inFreshNode(`
            const http = require('node:http');
            const upstream = http.createServer((req, res) => res.end('upstream'));
            await new Promise((res) => upstream.listen(0, '127.0.0.3', res));
            const server = http.createServer((req, res) => t.scope({ allow: [], allowLocalhost: false }, async () => {
                const tried = await new Promise((resolve) => http.get('http://127.0.0.3:' + upstream.address().port + '/', (m) => { m.resume(); resolve('reached'); }).on('error', (e) => resolve(e.code)));
                res.end('reply:' + tried);
            }));
            await new Promise((res) => server.listen(0, '127.0.0.2', res));
            t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const agent = new http.Agent({ keepAlive: true });
            const get = () => new Promise((resolve, reject) => http.get('http://127.0.0.2:' + server.address().port + '/', { agent }, (m) => { let body = ''; m.on('data', (d) => (body += d)); m.on('end', () => resolve(body)); }).on('error', reject));
            print([await get(), await get()]);
            process.exit(0);
        `);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, [['reply:ERR_EGRESS_BLOCKED', 'reply:ERR_EGRESS_BLOCKED']]);
    });
});
