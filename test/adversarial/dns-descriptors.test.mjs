// BYPASSES L5: DNS a program sends on a descriptor the hooks never saw connect (a copy made by dup, dup2,
// dup3, fcntl(F_DUPFD*), syscall(SYS_dup2), one passed over a Unix socket, one connected by a raw system
// call or before activate()), by every call that puts bytes into a connected socket, and messages that
// carry a second name (two messages in one TCP write, one split across writes, two questions, an
// additional record, a "response"). The test runs the name server the query would reach and reads every
// byte it is sent: a refused name's marker must never arrive there.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { buildC, root } from '../helpers/cbuild.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { netprobe, runUnderShim, serve } from '../helpers/shim.mjs';
import { rawDnsServer } from './dns-raw-server.mjs';

const RESOLVER = '127.0.0.53';
const ALLOWED = 'fine.example.test';
const STRICT = { TETHERED_ALLOW_LOCALHOST: '0' };
const OFF = { TETHERED_ALLOW: undefined, TETHERED_POLICY_FILE: undefined };

const SOURCES = ['dup', 'dup2', 'dup3', 'fcntl', 'fcntl-cloexec', 'scm', 'raw', 'syscall-dup2'];
const METHODS = ['send', '__send', '__write_nocancel', 'writev', 'sendmsg', 'sendmmsg', 'pwritev2', 'syscall-write', 'syscall-writev'];
const NO_COPY = ['sendfile', 'splice', 'vmsplice']; // bytes that never pass through the process: refused
// [how, what]: a message that carries the marker name next to an allowed name
const MESSAGES = [
    ['plain:qd2', 'one datagram with two questions'],
    ['plain:additional', 'a query with the name in an additional record'],
    ['plain:response', 'a message with QR set (a "response" sent to the server)'],
    ['tcp:two', 'two messages in one TCP write'],
    ['tcp:split', 'one TCP message split across two writes'],
];

const marker = (how) => `leak-${how.replace(/_/g, 'u').replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase()}.exfil.test`;

describe('L5 DNS on descriptors the hooks did not see connect (preload)', { skip: NEEDS_NETNS }, () => {
    const s = serve({ dns: () => rawDnsServer({ [ALLOWED]: '127.0.0.12' }) });
    // the probe's query asks ALLOWED first where a message carries two names; the marker alone otherwise
    const args = (how) => (MESSAGES.some(([m]) => m === how) ? [ALLOWED, marker(how)] : [marker(how)]);
    const run = (how, env, options) => runUnderShim(netprobe(), ['dns-escape', how, RESOLVER, ...args(how)], { ...STRICT, ...env }, options);

    const ways = [...SOURCES.map((src) => `${src}:write`), ...METHODS.map((m) => `raw:${m}`)];
    for (const how of ways) {
        test(`L5 ${how}: blocked — a query for a refused name never reaches the server; one event`, async () => {
            const r = await run(how, { TETHERED_ALLOW: ALLOWED });
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.equal(await s.dns.heard(marker(how)), false, 'the marker reached the name server');
            assert.deepEqual(r.events.map((e) => [e.decision, e.protocol, e.host]), [['block', 'dns', marker(how)]]);
        });
        test(`L5 ${how}: without tethered the same query reaches the server (control)`, async () => {
            const r = await run(how, OFF, { preload: false });
            assert.equal(r.stdout, 'ok sent', r.stderr);
            assert.equal(await s.dns.heard(marker(how)), true);
            s.dns.forget();
        });
        test(`L5 ${how}: reported once in log mode; allowed by a rule for the name`, async () => {
            const logged = await run(how, { TETHERED_ALLOW: ALLOWED, TETHERED_MODE: 'log' });
            assert.equal(logged.stdout, 'ok sent', logged.stderr);
            assert.deepEqual(logged.events.map((e) => [e.decision, e.host]), [['would-block', marker(how)]]);
            s.dns.forget();
            const allowed = await run(how, { TETHERED_ALLOW: marker(how) });
            assert.equal(allowed.stdout, 'ok sent', allowed.stderr);
            assert.equal(await s.dns.heard(marker(how)), true);
            assert.deepEqual(allowed.events, []);
            s.dns.forget();
        });
    }

    for (const method of NO_COPY) {
        const how = `raw:${method}`;
        test(`${how} into a DNS socket: refused (no copy of it can be judged), one event; reaches the server without tethered`, async () => {
            const r = await run(how, { TETHERED_ALLOW: `${ALLOWED},${marker(how)}` });
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.equal(await s.dns.heard(marker(how)), false);
            assert.deepEqual(r.events.map((e) => [e.decision, e.op, e.reason]), [['block', method === 'vmsplice' ? 'splice' : method, 'invalid-host']]);
            const logged = await run(how, { TETHERED_ALLOW: ALLOWED, TETHERED_MODE: 'log' });
            assert.equal(logged.stdout, 'ok sent', logged.stderr);
            assert.equal(logged.events.length, 1);
            s.dns.forget();
            const off = await run(how, OFF, { preload: false });
            assert.equal(off.stdout, 'ok sent', off.stderr);
            assert.equal(await s.dns.heard(marker(how)), true);
            s.dns.forget();
        });
    }

    for (const [how, what] of MESSAGES) {
        test(`${what}: the second name never reaches the server; reaches it without tethered`, async () => {
            const r = await run(how, { TETHERED_ALLOW: ALLOWED });
            assert.equal(r.stdout, 'error EACCES', r.stderr);
            assert.equal(await s.dns.heard(marker(how)), false);
            assert.equal(r.events.length, 1, JSON.stringify(r.events));
            assert.equal(r.events[0].decision, 'block');
            const off = await run(how, OFF, { preload: false });
            assert.equal(off.stdout, 'ok sent', off.stderr);
            assert.equal(await s.dns.heard(marker(how)), true);
            s.dns.forget();
        });
    }

    test('two questions, both allowed: the datagram goes', async () => {
        const how = 'plain:qd2';
        const r = await run(how, { TETHERED_ALLOW: `${ALLOWED},${marker(how)}` });
        assert.equal(r.stdout, 'ok sent', r.stderr);
        assert.equal(await s.dns.heard(marker(how)), true);
        assert.deepEqual(r.events, []);
        s.dns.forget();
    });

    test('two TCP messages in one write, both allowed: both go', async () => {
        const how = 'tcp:two';
        const r = await run(how, { TETHERED_ALLOW: `${ALLOWED},${marker(how)}` });
        assert.equal(r.stdout, 'ok sent', r.stderr);
        assert.equal(await s.dns.heard(marker(how)), true);
        assert.equal(await s.dns.heard(ALLOWED), true);
        s.dns.forget();
    });
});

// What is judged is what is sent: another thread rewriting the question between the check and the kernel's
// copy of the datagram.
describe('one private copy of a DNS query is judged and sent', { skip: NEEDS_NETNS }, () => {
    const s = serve({ dns: () => rawDnsServer({}) });
    const RACE = ['dns-race', RESOLVER, 'raceok.example.test', 'raceno.example.test', '3000'];
    test('a question rewritten by another thread while it is sent: the refused name never arrives', async () => {
        // on a busy machine the rewriting thread may not get the CPU inside one run (none refused): a few runs,
        // until it has; in none of them may the refused name arrive
        let sent = 0;
        let refused = 0;
        for (let run = 0; run < 5 && refused === 0; run++) {
            const r = await runUnderShim(netprobe(), RACE, { ...STRICT, TETHERED_ALLOW: 'raceok.example.test', TETHERED_LOG: 'off' });
            const [, s1, r1] = r.stdout.split(' ').map(Number);
            assert.ok(s1 > 0, r.stdout + r.stderr);
            sent += s1;
            refused += r1;
        }
        assert.ok(sent > 0 && refused > 0, `sent ${sent}, refused ${refused}: the race never happened`);
        assert.equal(await s.dns.heard('raceno.example.test'), false);
        assert.equal(await s.dns.heard('raceok.example.test'), true);
        s.dns.forget();
    });
    test('the same race without tethered: the rewritten name arrives (control)', async () => {
        // on a busy machine the rewriting thread may not get the CPU inside one run: a few runs, until it has
        let heard = false;
        for (let run = 0; run < 5 && !heard; run++) {
            const r = await runUnderShim(netprobe(), RACE, OFF, { preload: false });
            assert.match(r.stdout, /^ok 3000 0$/, r.stderr);
            heard = await s.dns.heard('raceno.example.test');
        }
        assert.equal(heard, true);
        s.dns.forget();
    });
});

// The same in a Node process that activate()s: sockets connected before activate() (JavaScript's own
// dgram and net, and native code), and native code copying a DNS socket after it.
describe('L5 DNS on descriptors the hooks did not see connect (in-process)', { skip: NEEDS_NETNS }, () => {
    const s = serve({ dns: () => rawDnsServer({ [ALLOWED]: '127.0.0.12' }) });

    const QUERY = (name) => `(() => {
        const labels = ${JSON.stringify(name)}.split('.').flatMap((l) => [Buffer.from([l.length]), Buffer.from(l)]);
        return Buffer.concat([Buffer.from([0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, 1, 0, 1])]);
    })()`;

    for (const activated of [true, false]) {
        test(`a UDP socket JavaScript connected to the resolver before activate(): its query ${activated ? 'is judged after it' : 'goes out without tethered (control)'}`, async () => {
            const name = 'leak-js-dgram.exfil.test';
            const r = await inFreshNode(`
                const dgram = require('node:dgram');
                const sock = dgram.createSocket('udp4');
                await new Promise((resolve) => sock.connect(53, '${RESOLVER}', resolve));
                ${activated ? `t.activate({ allow: ['${ALLOWED}'], allowLocalhost: false, onBlocked: (e) => print(['event', e.decision, e.host]) });` : ''}
                const err = await new Promise((resolve) => sock.send(${QUERY(name)}, (e) => resolve(e)));
                print(err ? err.code : 'sent');
                await tick();
                sock.close();
            `);
            assert.equal(r.code, 0, r.stderr);
            if (activated) {
                assert.match(String(r.results[0]), /^(EACCES|ERR_EGRESS_BLOCKED)$/);
                assert.deepEqual(r.results.slice(1), [['event', 'block', name]]);
                assert.equal(await s.dns.heard(name), false);
            } else {
                assert.deepEqual(r.results, ['sent']);
                assert.equal(await s.dns.heard(name), true);
                s.dns.forget();
            }
        });
        test(`a TCP socket JavaScript connected to the resolver before activate(): its query ${activated ? 'is judged after it' : 'goes out without tethered (control)'}`, async () => {
            const name = 'leak-js-tcp.exfil.test';
            const r = await inFreshNode(`
                const sock = net.connect({ host: '${RESOLVER}', port: 53 });
                await new Promise((resolve) => sock.on('connect', resolve));
                ${activated ? `t.activate({ allow: ['${ALLOWED}'], allowLocalhost: false, onBlocked: (e) => print(['event', e.decision, e.host]) });` : ''}
                const q = ${QUERY(name)};
                const err = await new Promise((resolve) => { sock.on('error', resolve); sock.write(Buffer.concat([Buffer.from([0, q.length]), q]), (e) => resolve(e)); });
                print(err ? err.code : 'sent');
                await tick();
                sock.destroy();
            `);
            assert.equal(r.code, 0, r.stderr);
            if (activated) {
                assert.match(String(r.results[0]), /^(EACCES|ERR_EGRESS_BLOCKED)$/);
                assert.deepEqual(r.results.slice(1), [['event', 'block', name]]);
                assert.equal(await s.dns.heard(name), false);
            } else {
                assert.deepEqual(r.results, ['sent']);
                assert.equal(await s.dns.heard(name), true);
                s.dns.forget();
            }
        });
    }

    // Native code in the process: netprobe's dns-escape, built into an addon.
    const ADDON_WAYS = ['dup:write', 'dup2:write', 'fcntl:write', 'scm:write', 'raw:write', 'raw:send', 'raw:sendmsg', 'raw:syscall-write', 'syscall-dup2:write', 'raw:__write_nocancel', 'raw:sendfile', 'tcp:two', 'plain:qd2'];
    for (const how of ADDON_WAYS) {
        test(`native code, ${how}: the refused name never reaches the server after activate(); it does without`, async () => {
            const name = marker(`in-${how}`);
            const second = how === 'tcp:two' || how === 'plain:qd2';
            const call = `escape.escape('${how}', '${RESOLVER}', '${second ? ALLOWED : name}', '${name}')`;
            const r = await inFreshNode(`
                const escape = require(${JSON.stringify(escapeAddon())});
                t.activate({ allow: ['${ALLOWED}'], allowLocalhost: false, onBlocked: (e) => print(['event', e.decision]) });
                print(${call});
                await tick();
            `);
            assert.equal(r.code, 0, r.stderr);
            assert.deepEqual(r.results, [13, ['event', 'block']]);
            assert.equal(await s.dns.heard(name), false);
            const off = await inFreshNode(`
                const escape = require(${JSON.stringify(escapeAddon())});
                print(${call});
            `);
            assert.deepEqual(off.results, [0], off.stderr);
            assert.equal(await s.dns.heard(name), true);
            s.dns.forget();
        });
    }
});

/** netprobe.c's dns-escape as a function of an addon: escape(how, server, name, name2) → 0 or an errno. */
function escapeAddon() {
    const source = join(root, 'build', 'test', 'dns-escape-addon.c');
    const probe = join(root, 'test/native/c/netprobe.c');
    const text = `#define main netprobe_main
#include ${JSON.stringify(probe)}
#undef main
#include <node_api.h>
static napi_value escape(napi_env env, napi_callback_info info) {
    size_t argc = 4;
    napi_value argv[4];
    napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
    char s[4][256];
    for (int i = 0; i < 4; i++) napi_get_value_string_utf8(env, argv[i], s[i], sizeof s[i], NULL);
    napi_value out;
    napi_create_int32(env, dns_escape(s[0], s[1], s[2], s[3]), &out);
    return out;
}
NAPI_MODULE_INIT() {
    (void)netprobe_main;
    napi_value fn;
    napi_create_function(env, "escape", NAPI_AUTO_LENGTH, escape, NULL, &fn);
    napi_set_named_property(env, exports, "escape", fn);
    return exports;
}
`;
    // rewritten only when it or netprobe.c changed, so that buildC rebuilds only then
    if (!existsSync(source) || readFileSync(source, 'utf8') !== text || statSync(probe).mtimeMs > statSync(source).mtimeMs) writeFileSync(source, text);
    return buildC('dns-escape-addon', [source], { shared: true, suffix: '.node', includes: ['/usr/include/node'], libs: ['-lresolv', '-lanl'] });
}
