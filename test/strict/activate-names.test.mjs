// Name rules under activate({ strict: true }): the Node process's own lookups (dns.lookup through glibc,
// dns.resolve4 through c-ares) go through the supervisor's resolver, which judges the question and records
// the answer, so a connect the supervisor alone sees (a raw `syscall` from a native addon, which no libc hook
// sees) is judged by the name it was resolved from. And in log-only mode a child's attempt, which both the
// child's libc layer and the supervisor see, is reported once.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dnsServer } from '../helpers/dns-server.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { logFile, netprobe, readEvents, serve, tcpServer } from '../helpers/shim.mjs';

const EACCES = 13;
const GOOD = 'ok.strict-names.test';
const BAD = 'no.strict-names.test';

let n = 0;
const marker = (what) => `${what}-${process.pid}-${++n}`;

describe('activate({ strict: true }) with name rules', { skip: NEEDS_NETNS }, () => {
    const s = serve({
        dns: () => dnsServer({ [GOOD]: '127.0.0.8', [BAD]: '127.0.0.9' }),
        good: () => tcpServer('127.0.0.8'),
        bad: () => tcpServer('127.0.0.9'),
    });
    const asked = (name) => s.dns.questions.filter((q) => q === name).length;

    async function fresh(body, env = {}) {
        const r = await inFreshNode(
            `
            const seen = [];
            const dns = { lookup: (...a) => require('node:dns').promises.lookup(...a), resolve4: (...a) => require('node:dns').promises.resolve4(...a) };
            ${body}`,
            { env },
        );
        assert.equal(r.code, 0, r.stderr + JSON.stringify(r.results));
        return r.results;
    }

    test('control: without strict mode, a raw-syscall connect to the address behind the name reaches the peer', async () => {
        const m = marker('control');
        const [answer] = await fresh(`
            t.activate({ allow: ['${GOOD}:${s.good.port}'], allowLocalhost: false });
            print(addon.rawRoundTrip('127.0.0.8', ${s.good.port}, '${m}'));`);
        assert.equal(answer, `ok pong:${m}`);
    });

    for (const [how, lookup] of [
        ['dns.lookup (glibc)', `(await dns.lookup('${GOOD}', { family: 4 })).address`],
        ['dns.resolve4 (c-ares, over TCP under strict mode)', `(await dns.resolve4('${GOOD}'))[0]`],
    ]) {
        test(`${how}: an allowed name resolves through the supervisor, and a raw-syscall connect to its address is allowed by the name rule, data round-trips`, async () => {
            const m = marker('allowed');
            const before = asked(GOOD);
            const [address, answer, events] = await fresh(`
                t.activate({ allow: ['${GOOD}:${s.good.port}'], allowLocalhost: false, strict: true, onBlocked: (e) => seen.push(e) });
                print(${lookup});
                print(addon.rawRoundTrip('127.0.0.8', ${s.good.port}, '${m}'));
                await tick();
                print(seen.map((e) => [e.decision, e.layer ?? 'libc', e.host, e.ip]));`);
            assert.equal(address, '127.0.0.8');
            assert.equal(answer, `ok pong:${m}`);
            assert.ok(s.good.lines.includes(m));
            assert.ok(asked(GOOD) > before, 'the question was forwarded');
            assert.deepEqual(events, []);
        });
    }

    test('before any lookup, the same raw connect is refused: the supervisor knows no name for the address', async () => {
        const m = marker('unnamed');
        const [answer, events] = await fresh(`
            t.activate({ allow: ['${GOOD}:${s.good.port}'], allowLocalhost: false, strict: true, onBlocked: (e) => seen.push(e) });
            print(addon.rawRoundTrip('127.0.0.8', ${s.good.port}, '${m}'));
            await tick();
            print(seen.map((e) => [e.decision, e.layer, e.ip, e.port]));`);
        assert.equal(answer, `error ${EACCES}`);
        assert.ok(!s.good.lines.includes(m));
        assert.deepEqual(events, [['block', 'strict', '127.0.0.8', s.good.port]]);
    });

    test('a refused name is blocked (EgressBlocked from the libc layer) and never reaches the DNS server', async () => {
        const before = asked(BAD);
        const [code] = await fresh(`
            t.activate({ allow: ['${GOOD}:${s.good.port}'], allowLocalhost: false, strict: true });
            print(await dns.lookup('${BAD}', { family: 4 }).then(() => 'resolved', (e) => e.code));`);
        assert.equal(code, 'ERR_EGRESS_BLOCKED');
        assert.equal(asked(BAD), before, 'the DNS server heard a refused question');
    });

    test("log-only: a dynamic child's refused connect goes through and is reported once (by the supervisor), not also by the child's libc layer", async () => {
        const log = logFile();
        const before = s.bad.connections;
        const [out] = await fresh(
            `
            t.activate({ allow: ['${GOOD}:${s.good.port}'], allowLocalhost: false, strict: true, logOnly: true, onBlocked: (e) => seen.push(e) });
            const c = require('node:child_process').spawnSync(${JSON.stringify(netprobe())}, ['connect-ip', '127.0.0.9', '${s.bad.port}'], { encoding: 'utf8' });
            await tick(); await tick();
            print([c.stdout.trim(), seen.map((e) => [e.decision, e.layer ?? 'libc', e.ip, e.port])]);`,
            { TETHERED_LOG: log },
        );
        assert.match(out[0], /^ok/);
        assert.equal(s.bad.connections, before + 1, 'log-only let it through');
        const events = readEvents(log).filter((e) => e.port === s.bad.port);
        assert.deepEqual(
            events.map((e) => [e.decision, e.layer ?? 'libc']),
            [['would-block', 'strict']],
            'one event for one attempt',
        );
    });
});
