// BYPASSES rows J1–J11 in-process: each JavaScript way out, blocked (enforce), reported once (log-only),
// and working when a rule allows it. Every scenario runs in a fresh node with activate() and no LD_PRELOAD.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { httpServer, tcpServer, udpServer } from '../helpers/shim.mjs';
import { dnsServer } from '../helpers/dns-server.mjs';

const wsPath = createRequire(import.meta.url).resolve('ws');
const { WebSocketServer } = createRequire(import.meta.url)('ws');

describe('JavaScript egress paths under activate()', { skip: NEEDS_NETNS }, () => {
    const s = {};
    let certFile;
    before(async () => {
        s.tcp = await tcpServer('127.0.0.2');
        s.tcp6 = await tcpServer('::1');
        s.web = await httpServer('127.0.0.2');
        s.other = await httpServer('127.0.0.3');
        s.udp = await udpServer('127.0.0.2');
        // A throw-away certificate for api.example.test, made here (openssl), trusted by the scenarios.
        const dir = mkdtempSync(join(tmpdir(), 'tethered-tls-'));
        certFile = join(dir, 'cert.pem');
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=api.example.test', '-addext', 'subjectAltName=DNS:api.example.test', '-keyout', join(dir, 'key.pem'), '-out', certFile], { stdio: 'ignore' });
        const server = https.createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(certFile) }, (req, res) => res.end('ok'));
        server.listen(0, '127.0.0.2');
        await once(server, 'listening');
        s.tls = { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
        const wss = new WebSocketServer({ host: '127.0.0.2', port: 0 });
        wss.on('connection', (ws) => ws.on('message', (m) => ws.send(m)));
        await once(wss, 'listening');
        s.ws = { port: wss.address().port, close: () => new Promise((r) => wss.close(r)) };
        // api.example.test redirects to evil.example.test
        const redirect = http.createServer((req, res) => {
            res.writeHead(302, { location: `http://evil.example.test:${s.other.port}/landing` });
            res.end();
        });
        redirect.listen(0, '127.0.0.2');
        await once(redirect, 'listening');
        s.redirect = { port: redirect.address().port, close: () => new Promise((r) => redirect.close(r)) };
        // The resolver c-ares asks (127.0.0.53, from /etc/resolv.conf): names only DNS knows.
        s.dns = await dnsServer({ 'dns.example.test': '127.0.0.2' });
    });
    after(async () => {
        await Promise.all(Object.values(s).map((x) => x.close()));
    });

    // [row, what, rule that allows it, attempt]: the last two are built once the servers have ports.
    const SCENARIOS = [
        ['J1', 'net.connect to a hostname', () => `api.example.test:${s.tcp.port}`, () => `await tcp('api.example.test', ${s.tcp.port})`],
        ['J1', 'net.connect to an IP literal', () => `127.0.0.2:${s.tcp.port}`, () => `await tcp('127.0.0.2', ${s.tcp.port})`],
        ['J2', 'tls.connect', () => `api.example.test:${s.tls.port}`, () => `await new Promise((resolve, reject) => { const c = tls.connect({ host: 'api.example.test', port: ${s.tls.port}, ca: fs.readFileSync(${JSON.stringify(certFile)}) }, () => { c.destroy(); resolve(); }); c.on('error', reject); })`],
        ['J2', 'https.get', () => `api.example.test:${s.tls.port}`, () => `await new Promise((resolve, reject) => https.get({ host: 'api.example.test', port: ${s.tls.port}, ca: fs.readFileSync(${JSON.stringify(certFile)}) }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject))`],
        ['J3', 'http.get', () => `api.example.test:${s.web.port}`, () => `await get('http://api.example.test:${s.web.port}/')`],
        ['J3', 'http.request through a keep-alive agent, twice', () => `api.example.test:${s.web.port}`, () => `{ const agent = new http.Agent({ keepAlive: true }); await get('http://api.example.test:${s.web.port}/', agent); await get('http://api.example.test:${s.web.port}/', agent); agent.destroy(); }`],
        ['J4', 'fetch', () => `api.example.test:${s.web.port}`, () => `await (await fetch('http://api.example.test:${s.web.port}/')).text()`],
        ['J5', 'http2.connect (h2c)', () => `127.0.0.2:${s.tcp.port}`, () => `await h2('http://127.0.0.2:${s.tcp.port}')`],
        ['J6', 'WebSocket client (ws), with a message round trip', () => `api.example.test:${s.ws.port}`, () => `await new Promise((resolve, reject) => { const ws = new WebSocket('ws://api.example.test:${s.ws.port}/'); ws.on('open', () => ws.send('ping')); ws.on('message', (m) => { ws.close(); String(m) === 'ping' ? resolve() : reject(new Error('bad echo')); }); ws.on('error', reject); })`],
        ['J7', 'dgram send to an address', () => `127.0.0.2:${s.udp.port}`, () => `await udpSend(${s.udp.port}, false)`],
        ['J7', 'dgram connect + send', () => `127.0.0.2:${s.udp.port}`, () => `await udpSend(${s.udp.port}, true)`],
        ['J8', 'dns.lookup', () => 'api.example.test', () => `await new Promise((r, j) => dns.lookup('api.example.test', (e) => (e ? j(e) : r())))`],
        ['J8', 'dns.promises.lookup', () => 'api.example.test', () => `await dns.promises.lookup('api.example.test')`],
        ['J9', 'dns.resolve4 (c-ares sends its own query)', () => 'dns.example.test', () => `await new Promise((resolve, reject) => dns.resolve4('dns.example.test', (e, a) => (e ? reject(e) : resolve(a))))`],
        ['J9', 'dns.Resolver#resolve4', () => 'dns.example.test', () => `await new Promise((resolve, reject) => new dns.Resolver().resolve4('dns.example.test', (e, a) => (e ? reject(e) : resolve(a))))`],
        ['J9', 'dns.promises.resolve4, then a connect to the answer (judged by name)', () => `dns.example.test:${s.tcp.port}`, () => `{ const [ip] = await dns.promises.resolve4('dns.example.test'); await tcp(ip, ${s.tcp.port}); }`],
        ['J10', 'net.connect with autoSelectFamily', () => `api.example.test:${s.tcp.port}`, () => `await tcp('api.example.test', ${s.tcp.port}, { autoSelectFamily: true })`],
        ['J10', 'net.connect to [::1]', () => `[::1]:${s.tcp6.port}`, () => `await tcp('::1', ${s.tcp6.port})`],
        ['J11', 'an IPv4-mapped IPv6 address', () => `127.0.0.2:${s.tcp.port}`, () => `await tcp('::ffff:127.0.0.2', ${s.tcp.port})`],
        ['J11', 'an upper-case name', () => `api.example.test:${s.tcp.port}`, () => `await tcp('API.Example.TEST', ${s.tcp.port})`],
        ['J11', 'shorthand IPv4 (127.2)', () => `127.0.0.2:${s.tcp.port}`, () => `await tcp('127.2', ${s.tcp.port})`],
        ['J11', 'numeric IPv4 (2130706434)', () => `127.0.0.2:${s.tcp.port}`, () => `await tcp('2130706434', ${s.tcp.port})`],
    ];

    const HELPERS = `
        const WebSocket = require(${JSON.stringify(wsPath)});
        const http = require('node:http'), https = require('node:https'), http2 = require('node:http2'), dns = require('node:dns'), dgram = require('node:dgram'), tls = require('node:tls'), fs = require('node:fs');
        const tcp = (host, port, extra = {}) => new Promise((resolve, reject) => {
            const sock = net.connect({ host, port, ...extra });
            sock.on('connect', () => { sock.end('ping\\n'); }); sock.on('data', () => { sock.destroy(); resolve('ok'); }); sock.on('error', reject);
        });
        const get = (url, agent) => new Promise((resolve, reject) => http.get(url, { agent }, (res) => { res.resume(); res.on('end', resolve); }).on('error', reject));
        const h2 = (url) => new Promise((resolve, reject) => { const c = http2.connect(url); c.on('connect', () => { c.close(); resolve(); }); c.on('error', reject); });
        const udpSend = (port, connected) => new Promise((resolve, reject) => {
            const sock = dgram.createSocket('udp4');
            sock.on('message', () => { sock.close(); resolve(); });
            sock.on('error', reject);
            if (connected) sock.connect(port, '127.0.0.2', (err) => (err ? reject(err) : sock.send('ping', (e) => e && reject(e))));
            else sock.send('ping', port, '127.0.0.2', (e) => e && reject(e));
        });
        const outcome = async (fn) => { try { await fn(); return 'ok'; } catch (e) { const c = e.code ? e : e.cause || e; return c.code || c.message; } };
    `;

    for (const [row, what, ruleFor, attemptFor] of SCENARIOS) {
        test(`${row} ${what}: blocked, reported once in log mode, allowed by a rule`, async () => {
            const rule = ruleFor();
            const attempt = attemptFor();
            const run = (options) =>
                inFreshNode(`
                    ${HELPERS}
                    const events = [];
                    t.activate({ ...${JSON.stringify(options)}, allowLocalhost: false, onBlocked: (e) => events.push(e) });
                    print(await outcome(async () => { ${attempt}; }));
                    await tick();
                    print(events.map((e) => e.decision));
                `);
            const blocked = await run({ allow: ['other.example.test'] });
            assert.equal(blocked.results[0], 'ERR_EGRESS_BLOCKED', blocked.stderr);
            assert.deepEqual(blocked.results[1], ['block'], JSON.stringify(blocked.results));
            const logged = await run({ allow: [], logOnly: true });
            assert.equal(logged.results[0], 'ok', logged.stderr);
            assert.ok(logged.results[1].length >= 1 && logged.results[1].every((d) => d === 'would-block'), JSON.stringify(logged.results));
            const allowed = await run({ allow: [rule] });
            assert.deepEqual(allowed.results, ['ok', []], allowed.stderr);
        });
    }

    test('J4 fetch follows a redirect from an allowed host to a blocked one: blocked, reported once in log mode, allowed by a rule', async () => {
        const run = (allow, logOnly = false) =>
            inFreshNode(`
                const events = [];
                t.activate({ allow: ${JSON.stringify(allow)}, allowLocalhost: false, logOnly: ${logOnly}, onBlocked: (e) => events.push(e) });
                const outcome = await fetch('http://api.example.test:${s.redirect.port}/start').then(
                    async (r) => [r.status, (await r.text()).trim()],
                    (e) => [e.name, e.cause && e.cause.code, e.cause && e.cause.host, e.cause && e.cause.event.url],
                );
                await tick();
                print(outcome);
                print(events.map((e) => [e.decision, e.host, e.port]));
            `);
        const first = `api.example.test:${s.redirect.port}`;
        const blocked = await run([first]);
        assert.deepEqual(blocked.results, [
            ['TypeError', 'ERR_EGRESS_BLOCKED', 'evil.example.test', null],
            [['block', 'evil.example.test', null]],
        ], blocked.stderr);
        const logged = await run([first], true);
        assert.deepEqual(logged.results[0], [200, 'hello from 127.0.0.3'], logged.stderr);
        assert.deepEqual(logged.results[1].map(([d, h]) => [d, h]), [['would-block', 'evil.example.test'], ['would-block', 'evil.example.test']]);
        const allowed = await run([first, `evil.example.test:${s.other.port}`]);
        assert.deepEqual(allowed.results, [[200, 'hello from 127.0.0.3'], []], allowed.stderr);
    });
});
