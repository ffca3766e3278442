// Name rules in strict mode, for programs that resolve names on their own: Go's pure resolver (a connected
// UDP socket and write(), which no filter sees) and glibc's (getaddrinfo in a static program). Each DNS
// question to the system's name server is judged by its name — a refused one never reaches the server —,
// the answers are recorded so that the connect that follows is judged by the name (and its port), names
// from /etc/hosts count too, and a forged answer sent by the program itself teaches the supervisor nothing.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dnsServer, RESOLVER } from '../helpers/dns-server.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { serve, tcpServer } from '../helpers/shim.mjs';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { root } from '../helpers/cbuild.mjs';
import { goDial, resolveProbe, resolveProbeMusl, runPlain, runStrict } from './programs.mjs';

const caresDial = join(root, 'test/strict/cares-dial.mjs');

const skip = NEEDS_NETNS;
// Loopback is not allowed by default here: every peer of these tests is a loopback address.
const NO_LOCALHOST = { TETHERED_ALLOW_LOCALHOST: '0' };
const GOOD = 'ok.names.test';
const BAD = 'no.names.test';

describe('strict mode: name rules for programs that resolve names themselves', { skip }, () => {
    const s = serve({
        dns: () => dnsServer({ [GOOD]: '127.0.0.8', [BAD]: '127.0.0.9', 'alias.names.test': '127.0.0.8' }),
        good: () => tcpServer('127.0.0.8'),
        bad: () => tcpServer('127.0.0.9'),
        hostsGood: () => tcpServer('127.0.0.2'), // api.example.test in /etc/hosts
        hostsBad: () => tcpServer('127.0.0.3'), // evil.example.test in /etc/hosts
        chrooted: () => tcpServer('127.0.0.6'), // listed only in a chroot's own etc/hosts
    });
    const allow = (rules) => ({ ...NO_LOCALHOST, TETHERED_ALLOW: rules });
    const asked = (name) => s.dns.questions.filter((q) => q === name).length;

    const programs = [
        { family: 'Go (pure resolver: connected UDP, write())', run: (name, port, marker, env) => runStrict(goDial(), [`${name}:${port}`, marker], env), plain: (name, port, marker) => runPlain(goDial(), [`${name}:${port}`, marker]) },
        { family: 'glibc (getaddrinfo, static)', run: (name, port, marker, env) => runStrict(resolveProbe(), ['dial', name, String(port), marker], env), plain: (name, port, marker) => runPlain(resolveProbe(), ['dial', name, String(port), marker]) },
        { family: "Node's c-ares (dns.resolve4: DNS only, no /etc/hosts)", noHosts: true, run: (name, port, marker, env) => runStrict(process.execPath, [caresDial, name, String(port), marker], env), plain: (name, port, marker) => runPlain(process.execPath, [caresDial, name, String(port), marker]) },
        { family: 'musl (getaddrinfo, static: unconnected sendto, replies checked by sender)', needs: hasMusl, run: (name, port, marker, env) => runStrict(resolveProbeMusl(), ['dial', name, String(port), marker], env), plain: (name, port, marker) => runPlain(resolveProbeMusl(), ['dial', name, String(port), marker]) },
    ];

    for (const p of programs) {
        describe(p.family, { skip: p.needs && !p.needs() && 'musl-gcc is not installed (scripts/system-deps.sh)' }, () => {
            test('positive control: without strict mode the program resolves the refused name and reaches its peer', async () => {
                const before = asked(BAD);
                const r = await p.plain(BAD, s.bad.port, `${p.family}-plain`);
                assert.equal(r.stdout, `ok pong:${p.family}-plain`, r.stderr);
                assert.ok(asked(BAD) > before, 'the DNS server heard the question');
            });

            test('an allowed name resolves through the supervisor and data round-trips', async () => {
                const before = asked(GOOD);
                const r = await p.run(GOOD, s.good.port, `${p.family}-ok`, allow(`${GOOD}:${s.good.port}`));
                assert.equal(r.stdout, `ok pong:${p.family}-ok`, r.stderr);
                assert.ok(s.good.lines.includes(`${p.family}-ok`));
                assert.ok(asked(GOOD) > before, 'the question was forwarded');
                assert.deepEqual(r.events, []);
            });

            test('a refused name never reaches the DNS server, and its address is refused too', async () => {
                const before = asked(BAD);
                const conns = s.bad.connections;
                const r = await p.run(BAD, s.bad.port, `${p.family}-no`, allow(`${GOOD}:${s.good.port}`));
                assert.match(r.stdout, /^error (lookup|resolve )/, r.stderr);
                assert.equal(asked(BAD), before, 'the DNS server heard a refused question');
                assert.equal(s.bad.connections, conns);
                const dns = r.events.filter((e) => e.protocol === 'dns');
                assert.equal(dns.length, 1, JSON.stringify(r.events));
                assert.equal(dns[0].decision, 'block');
                assert.equal(dns[0].host, BAD);
                assert.equal(dns[0].layer, 'strict');
                // The same peer by address: refused at connect (no name was recorded for it).
                const direct = await p.run('127.0.0.9', s.bad.port, `${p.family}-no-ip`, allow(`${GOOD}:${s.good.port}`));
                assert.equal(direct.stdout, 'error EACCES');
                assert.equal(s.bad.connections, conns);
            });

            test('a name rule with a port matches that port only', async () => {
                const r = await p.run(GOOD, s.bad.port, `${p.family}-port`, allow(`${GOOD}:${s.good.port}`));
                assert.equal(r.stdout, 'error EACCES', r.stderr);
                const connect = r.events.filter((e) => e.op === 'connect');
                assert.equal(connect.length, 1, JSON.stringify(r.events));
                assert.equal(connect[0].host, GOOD);
                assert.equal(connect[0].port, s.bad.port);
            });

            test('log-only: the refused name resolves and connects, reported once as a question and once as a connect, by name', async () => {
                const before = asked(BAD);
                const r = await p.run(BAD, s.bad.port, `${p.family}-log`, { ...allow(`${GOOD}:${s.good.port}`), TETHERED_MODE: 'log' });
                assert.equal(r.stdout, `ok pong:${p.family}-log`, r.stderr);
                assert.ok(asked(BAD) > before);
                const dns = r.events.filter((e) => e.protocol === 'dns');
                const connect = r.events.filter((e) => e.op === 'connect');
                assert.equal(dns.length, 1, JSON.stringify(r.events));
                assert.equal(connect.length, 1, JSON.stringify(r.events));
                assert.ok(r.events.every((e) => e.decision === 'would-block' && e.host === BAD));
                assert.equal(connect[0].ip, '127.0.0.9');
            });

            // c-ares never reads /etc/hosts: there is nothing of it to test for that family
            if (!p.noHosts) test('names from /etc/hosts count: the listed name is allowed, another listed name is refused by its deny rule', async () => {
                const ok = await p.run('api.example.test', s.hostsGood.port, `${p.family}-hosts`, allow(`api.example.test:${s.hostsGood.port}`));
                assert.equal(ok.stdout, `ok pong:${p.family}-hosts`, ok.stderr);
                assert.ok(s.hostsGood.lines.includes(`${p.family}-hosts`));
                const conns = s.hostsBad.connections;
                const env = { ...allow(`*.example.test:${s.hostsBad.port}`), TETHERED_DENY: 'evil.example.test' };
                const bad = await p.run('evil.example.test', s.hostsBad.port, `${p.family}-hosts-no`, env);
                assert.equal(bad.stdout, 'error EACCES', bad.stderr);
                assert.equal(s.hostsBad.connections, conns);
                assert.equal(bad.events.length, 1, JSON.stringify(bad.events));
                assert.equal(bad.events[0].host, 'evil.example.test');
                assert.equal(bad.events[0].reason, 'deny-rule');
                // Without the deny rule the wildcard lets the same program through: the name decided.
                const through = await p.run('evil.example.test', s.hostsBad.port, `${p.family}-hosts-wild`, allow(`*.example.test:${s.hostsBad.port}`));
                assert.equal(through.stdout, `ok pong:${p.family}-hosts-wild`, through.stderr);
            });
        });
    }

    test('a name server that is not in resolv.conf needs an address rule, its questions are judged by name, and its answers name nothing', async () => {
        const other = await dnsServer({ [GOOD]: '127.0.0.8', [BAD]: '127.0.0.9' }, { address: '127.0.0.54' });
        try {
            const env = allow(`127.0.0.54,${GOOD}:${s.good.port}`);
            // The allowed question reaches it, but a server the program chose could name any address: its
            // answer is not recorded, so the address it gave is judged as an address.
            const conns = s.good.connections;
            const ok = await runStrict(process.execPath, [caresDial, GOOD, String(s.good.port), 'other-ok', '127.0.0.54'], env);
            assert.equal(ok.stdout, 'error EACCES', ok.stderr);
            assert.ok(other.questions.includes(GOOD));
            assert.equal(s.good.connections, conns);
            const bad = await runStrict(process.execPath, [caresDial, BAD, String(s.bad.port), 'other-no', '127.0.0.54'], env);
            assert.match(bad.stdout, /^error lookup/, bad.stderr);
            assert.ok(!other.questions.includes(BAD), 'the other server heard a refused question');
            const unlisted = await runStrict(process.execPath, [caresDial, GOOD, String(s.good.port), 'other-unlisted', '127.0.0.54'], allow(`${GOOD}:${s.good.port}`));
            assert.match(unlisted.stdout, /^error lookup/, unlisted.stderr);
            assert.ok(unlisted.events.some((e) => e.ip === '127.0.0.54' && e.port === 53 && e.decision === 'block'), JSON.stringify(unlisted.events));
            // Positive control: without strict mode the other server hears the refused name.
            const plain = await runPlain(process.execPath, [caresDial, BAD, String(s.bad.port), 'other-plain', '127.0.0.54']);
            assert.equal(plain.stdout, 'ok pong:other-plain');
            assert.ok(other.questions.includes(BAD));
        } finally {
            await other.close();
        }
    });

    // A program makes a tree of its own (unshare(CLONE_NEWUSER), chroot) whose etc/hosts and etc/resolv.conf
    // it wrote: root-owned here (the tests run as the namespace's root), as /proc/self/cmdline would be.
    const ownTree = (files) => {
        const dir = mkdtempSync(join(tmpdir(), 'tethered-chroot-'));
        mkdirSync(join(dir, 'etc'));
        for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, 'etc', name), text);
        return dir;
    };

    test("a chroot's own /etc/hosts names nothing: an address it lists under an allowed name is refused", async () => {
        const dir = ownTree({ hosts: '127.0.0.6 chroot.names.test\n' });
        try {
            const args = (d, ip, port, marker) => ['chroot', d, ip, String(port), marker];
            const conns = s.chrooted.connections;
            const r = await runStrict(resolveProbe(), args(dir, '127.0.0.6', s.chrooted.port, 'chroot-hosts'), allow(`chroot.names.test:${s.chrooted.port}`));
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.equal(s.chrooted.connections, conns, 'the chroot\'s hosts file opened the address');
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.equal(r.events[0].host, null);
            // Positive control: without strict mode the chrooted program reaches the peer.
            const plain = await runPlain(resolveProbe(), args(dir, '127.0.0.6', s.chrooted.port, 'chroot-plain'));
            assert.equal(plain.stdout, 'ok pong:chroot-plain', plain.stderr);
            // A user namespace alone keeps the tree's /etc/hosts: its name is allowed.
            const ok = await runStrict(resolveProbe(), args('-', '127.0.0.2', s.hostsGood.port, 'userns-hosts'), allow(`api.example.test:${s.hostsGood.port}`));
            assert.equal(ok.stdout, 'ok pong:userns-hosts', ok.stderr);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    test("a chroot's own resolv.conf makes no name server: its server needs an address rule and its answers name nothing", async () => {
        const other = await dnsServer({ [GOOD]: '127.0.0.8' }, { address: '127.0.0.54' });
        const dir = ownTree({ 'resolv.conf': 'nameserver 127.0.0.54\n' });
        try {
            const args = (marker) => ['chroot-dial', dir, GOOD, String(s.good.port), marker];
            const conns = s.good.connections;
            const r = await runStrict(resolveProbe(), args('chroot-resolv'), allow(`127.0.0.54,${GOOD}:${s.good.port}`));
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.ok(other.questions.includes(GOOD), 'the question was forwarded');
            assert.equal(s.good.connections, conns, 'the answer of the chroot\'s name server opened the address');
            // Without an address rule for it the server is not asked at all.
            const before = other.questions.length;
            const none = await runStrict(resolveProbe(), args('chroot-resolv-none'), allow(`${GOOD}:${s.good.port}`));
            assert.match(none.stdout, /^error resolve/, none.stderr);
            assert.equal(other.questions.length, before);
            // Positive control: without strict mode the chrooted program resolves through it and connects.
            const plain = await runPlain(resolveProbe(), args('chroot-resolv-plain'));
            assert.equal(plain.stdout, 'ok pong:chroot-resolv-plain', plain.stderr);
        } finally {
            rmSync(dir, { recursive: true, force: true });
            await other.close();
        }
    });

    test('a forged answer the program sends itself does not make a refused address allowed', async () => {
        const conns = s.bad.connections;
        const args = ['poison', RESOLVER, GOOD, '127.0.0.9', String(s.bad.port), 'forged'];
        const r = await runStrict(resolveProbe(), args, allow(GOOD));
        assert.equal(r.stdout, 'write sent sendto error EACCES connect error EACCES', r.stderr);
        assert.equal(s.bad.connections, conns, 'the forged name opened the address');
        const connect = r.events.filter((e) => e.op === 'connect');
        assert.equal(connect.length, 1, JSON.stringify(r.events));
        assert.equal(connect[0].host, null);
        // Positive control: without strict mode the same program reaches the peer.
        const plain = await runPlain(resolveProbe(), args);
        assert.match(plain.stdout, /connect ok pong:forged$/);
    });

    for (const [what, kind] of [
        ['a query with two questions', 'two'],
        ['a query with bytes after its question', 'trailing'],
    ]) {
        test(`${what} is refused whole and never reaches the server`, async () => {
            const before = s.dns.questions.length;
            const r = await runStrict(process.execPath, ['-e', oddQuery(kind, GOOD, BAD)], allow(GOOD));
            assert.equal(r.stdout, 'rcode 5', r.stderr);
            assert.equal(s.dns.questions.length, before, 'the server heard the message');
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.equal(r.events[0].reason, 'invalid-host');
            // Positive control: without strict mode the message reaches the server.
            const plain = await runPlain(process.execPath, ['-e', oddQuery(kind, GOOD, BAD)]);
            assert.notEqual(plain.stdout, 'rcode 5');
            assert.ok(s.dns.questions.length > before);
        });
    }
});

function hasMusl() {
    try {
        execFileSync('musl-gcc', ['--version'], { stdio: 'ignore' });
        return true;
    } catch {
        return false;
    }
}

/** A node program (its own UDP socket, connected) that sends one odd message: two questions, or trailing
 * bytes after the question; prints the answer's rcode (or "timeout"). */
function oddQuery(kind, a, b) {
    return `
const dgram = require('node:dgram');
const q = (n) => Buffer.concat([...n.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])), Buffer.from([0, 0, 1, 0, 1])]);
const head = (count) => Buffer.from([0x12, 0x34, 1, 0, 0, count, 0, 0, 0, 0, 0, 0]);
const kind = ${JSON.stringify(kind)};
const msg = kind === 'two' ? Buffer.concat([head(2), q(${JSON.stringify(a)}), q(${JSON.stringify(b)})])
    : Buffer.concat([head(1), q(${JSON.stringify(a)}), Buffer.from('extra')]);
const s = dgram.createSocket('udp4');
s.connect(53, ${JSON.stringify(RESOLVER)}, () => s.send(msg));
s.on('message', (m) => { console.log('rcode ' + (m[3] & 15)); s.close(); });
setTimeout(() => { console.log('timeout'); process.exit(0); }, 2000).unref();
`;
}
