// Writes inside a scope that Node sends later, from elsewhere (found by an attacker's review of the scope's
// judgement of connections opened outside it): each is kept from the peer the scope refuses, and reaches
// it with tethered off (the control). And what a scope must not judge: replies on connections accepted
// elsewhere (a socket handed over by a parent process, inetd-style stdio), a request made outside every
// scope that waits behind one made inside.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { root } from '../helpers/cbuild.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';

describe('scope(): writes Node sends later', { skip: NEEDS_NETNS }, () => {
    let tls;
    before(() => {
        const dir = mkdtempSync(join(tmpdir(), 'tethered-tls-'));
        tls = { key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem'), dir };
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=x', '-keyout', tls.key, '-out', tls.cert], { stdio: 'ignore' });
    });

    // Each opens a connection to the forbidden peer (127.0.0.3) outside every scope, then writes SECRET
    // inside noEgress() in a way Node sends later; `got` is what the peer received.
    const LEAKS = [
        ['a write on a net.Socket still connecting', () => `
            const server = net.createServer((c) => { c.on('data', (d) => (got += d)); c.on('error', () => {}); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const s = net.connect(server.address().port, '127.0.0.3');
            s.on('error', () => {});
            await inside(async () => { s.write('SECRET'); });`],
        ['a write behind a pending write, kept in the stream buffer', () => `
            let peer;
            const server = net.createServer((c) => { peer = c; c.pause(); c.on('error', () => {}); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const s = net.connect(server.address().port, '127.0.0.3');
            s.on('error', () => {});
            await new Promise((r) => s.on('connect', r));
            await sleep(50);
            s.write(Buffer.alloc(8 << 20, 'a')); // outside: a large upload the peer reads slowly
            await inside(async () => { s.write('SECRET'); });
            peer.on('data', (d) => (got += d.toString('latin1').replace(/a+/g, ''))); peer.resume();
            await sleep(800);`],
        ['a TLS socket written before its handshake finished', () => `
            const tls = require('node:tls'); const { readFileSync } = require('node:fs');
            const server = tls.createServer({ key: readFileSync(${JSON.stringify(tls.key)}), cert: readFileSync(${JSON.stringify(tls.cert)}) }, (c) => { c.on('data', (d) => (got += d)); c.on('error', () => {}); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const s = tls.connect({ port: server.address().port, host: '127.0.0.3', rejectUnauthorized: false });
            s.on('error', () => {});
            await new Promise((r) => s.once('connect', r));
            await inside(async () => { s.write('SECRET'); });`],
        ['a write on an HTTP/2 stream opened outside', () => `
            const http2 = require('node:http2');
            const server = http2.createServer();
            server.on('stream', (stream) => { stream.on('data', (d) => (got += d)); stream.on('error', () => {}); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const session = http2.connect('http://127.0.0.3:' + server.address().port);
            session.on('error', () => {});
            await new Promise((r) => session.on('connect', r));
            const req = session.request({ ':path': '/', ':method': 'POST' }, { endStream: false });
            req.on('error', () => {});
            await sleep(100);
            await inside(async () => { req.write('SECRET'); });`],
        ['an http.ClientRequest made outside, its body ended inside before it had a socket', () => `
            const http = require('node:http');
            const server = http.createServer((req, res) => { req.on('data', (d) => (got += d)); req.on('end', () => res.end('ok')); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const req = http.request({ host: '127.0.0.3', port: server.address().port, method: 'POST', agent: new http.Agent({ keepAlive: true }) });
            req.on('error', () => {});
            await inside(async () => { req.end('SECRET'); });`],
        ["a TLS socket layered on a TCP socket opened outside (STARTTLS, a proxy's tunnel)", () => `
            const tls = require('node:tls'); const { readFileSync } = require('node:fs');
            const server = tls.createServer({ key: readFileSync(${JSON.stringify(tls.key)}), cert: readFileSync(${JSON.stringify(tls.cert)}) }, (c) => { c.on('data', (d) => (got += d)); c.on('error', () => {}); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const raw = net.connect(server.address().port, '127.0.0.3');
            await new Promise((r) => raw.once('connect', r));
            const s = tls.connect({ socket: raw, rejectUnauthorized: false });
            s.on('error', () => {});
            await new Promise((r) => s.once('secureConnect', r));
            await inside(async () => { s.write('SECRET'); await sleep(100); });`],
        ['an HTTP/2 session opened through a reference to http2.connect taken before tethered was at work', () => `
            const http2 = require('node:http2');
            const server = http2.createServer();
            server.on('stream', (stream, headers) => { got += headers[':path']; stream.on('data', (d) => (got += d)); stream.on('error', () => {}); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const session = early('http://127.0.0.3:' + server.address().port);
            session.on('error', () => {});
            await new Promise((r) => session.on('connect', r));
            await inside(async () => { const req = session.request({ ':path': '/SECRET', ':method': 'POST' }); req.on('error', () => {}); req.end('SECRET'); await sleep(100); });`],
        ['http.ClientRequest#flushHeaders inside, on a request made outside', () => `
            const http = require('node:http');
            const server = http.createServer((req, res) => { got += JSON.stringify(req.headers); res.end('ok'); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const req = http.request({ host: '127.0.0.3', port: server.address().port, method: 'POST', agent: new http.Agent({ keepAlive: true }) });
            req.on('error', () => {});
            await inside(async () => { req.setHeader('x-secret', 'SECRET'); req.flushHeaders(); });`],
        ['HTTP/2 trailers sent inside, on a stream opened outside', () => `
            const http2 = require('node:http2');
            const server = http2.createServer();
            server.on('stream', (stream) => { stream.on('trailers', (h) => (got += JSON.stringify(h))); stream.resume(); stream.on('error', () => {}); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            const session = http2.connect('http://127.0.0.3:' + server.address().port);
            session.on('error', () => {});
            await new Promise((r) => session.on('connect', r));
            const req = session.request({ ':path': '/', ':method': 'POST' }, { waitForTrailers: true });
            req.on('error', () => {});
            const ready = new Promise((r) => req.on('wantTrailers', r));
            req.end('x');
            await ready;
            await inside(async () => { req.sendTrailers({ 'x-secret': 'SECRET' }); await sleep(100); });`],
    ];
    const leak = (body, on) =>
        inFreshNode(`
            const ON = ${on};
            let got = '';
            const early = require('node:http2').connect; // taken before activate()
            const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
            if (ON) t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
            const inside = (fn) => (ON ? t.noEgress({ allowLocalhost: false }, fn).catch((e) => e.name) : fn());
            ${body()}
            await sleep(400);
            print(got);
            process.exit(0);
        `);
    for (const [what, body] of LEAKS) {
        test(`${what}: reaches the peer with tethered off; inside noEgress() nothing of it does`, async () => {
            const off = await leak(body, false);
            assert.equal(off.code, 0, off.stderr);
            assert.ok(off.results[0].includes('SECRET'), `the control: ${JSON.stringify(off.results)}`);
            const on = await leak(body, true);
            assert.equal(on.code, 0, on.stderr);
            assert.ok(!on.results[0].includes('SECRET'), JSON.stringify(on.results));
        });
    }

    test('http2 loaded only after tethered was at work (tethered does not load it itself): a request inside noEgress() on a session opened outside is judged; tethered off, it reaches the peer', async () => {
        for (const on of [false, true]) {
            const r = await inFreshNode(`
                if (${on}) t.activate({ allow: ['127.0.0.2', '127.0.0.3'], allowLocalhost: false });
                const loadedEarly = process.moduleLoadList.includes('NativeModule http2');
                const http2 = require('node:http2');
                let hits = 0;
                const server = http2.createServer((req, res) => { hits++; res.end('ok'); });
                await new Promise((r) => server.listen(0, '127.0.0.3', r));
                const session = http2.connect('http://127.0.0.3:' + server.address().port);
                session.on('error', () => {});
                const get = () => new Promise((resolve) => { const q = session.request({ ':path': '/' }); q.on('error', (e) => resolve(e.code)); q.resume(); q.on('end', () => resolve('ok')); });
                await get();
                const inside = ${on} ? await t.noEgress({ allowLocalhost: false }, get).catch((e) => e.name) : await get();
                print([loadedEarly, inside, hits]);
                process.exit(0);
            `);
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(r.results[0], on ? [false, 'EgressViolation', 1] : [false, 'ok', 2]);
        }
    });

    test('a reply inside noEgress() on a connection accepted elsewhere and handed over (child.send) is not judged', async () => {
        const child = join(tls.dir, 'child.cjs');
        writeFileSync(child, `
            const t = require(${JSON.stringify(root)});
            if (process.env.ON === '1') t.activate({ allow: ['127.0.0.2'], allowLocalhost: false });
            process.on('message', (m, sock) => {
                if (m !== 'socket') return;
                sock.on('error', (e) => process.send('error ' + e.code));
                t.noEgress({ allowLocalhost: false }, async () => { sock.end('REPLY'); }).then(() => process.send('ok'), (e) => process.send(e.name));
            });
            process.send('ready');`);
        for (const on of ['0', '1']) {
            const r = await inFreshNode(`
                const { fork } = require('node:child_process');
                const kid = fork(${JSON.stringify(child)}, { env: { ...process.env, ON: ${JSON.stringify(on)} } });
                await new Promise((r) => kid.once('message', r));
                const said = [];
                kid.on('message', (m) => said.push(m));
                const lb = net.createServer({ pauseOnConnect: true }, (sock) => kid.send('socket', sock));
                await new Promise((r) => lb.listen(0, '127.0.0.2', r));
                let got = '';
                const c = net.connect({ port: lb.address().port, host: '127.0.0.2', localAddress: '127.0.0.3' });
                c.on('data', (d) => (got += d)); c.on('error', () => {});
                await new Promise((r) => setTimeout(r, 800));
                print([got, said]);
                kid.kill(); process.exit(0);
            `);
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(r.results[0], ['REPLY', ['ok']], `tethered ${on === '1' ? 'on' : 'off'}`);
        }
    });

    test('a request made outside every scope, waiting behind one made inside noEgress() (maxSockets: 1), is not judged by that scope', async () => {
        const r = await inFreshNode(`
            const http = require('node:http');
            let hits = 0;
            const server = http.createServer((req, res) => { hits++; res.end('ok'); });
            await new Promise((r) => server.listen(0, '127.0.0.3', r));
            t.activate({ allow: ['127.0.0.3'], allowLocalhost: false });
            const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
            const get = () => new Promise((resolve) => http.get({ host: '127.0.0.3', port: server.address().port, agent }, (res) => { res.resume(); res.on('end', () => resolve('ok')); }).on('error', (e) => resolve(e.code)));
            const a = t.noEgress({ allowLocalhost: false }, get).catch((e) => e.name);
            const b = get();
            print([await a, await b, hits]);
            process.exit(0);
        `);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results[0], ['EgressViolation', 'ok', 1]);
    });
});
