// Races against what the DNS hooks and the address check judge (an attacker's review of this stop's fixes):
// - a datagram query judged as one message, sent on a number another thread moved to a TCP socket to the
//   same server: read as a stream, its EDNS option data was a second, unjudged query (now the check and the
//   send use one descriptor of the shim's own);
// - sendmmsg() with a query after a message that is not DNS: the query was judged on a copy and sent from
//   the caller's buffer, which another thread kept switching (now it goes alone, as the copy it judged);
// - AF_UNSPEC on a raw IPv6 socket, which the kernel reads as IPv6 and the shim read as IPv4 (now both).
// The test runs the name server and reads every message it is sent (a refused name may travel as data, in
// the EDNS option, never as a question); each case has its control without tethered.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildC, root } from '../helpers/cbuild.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { runUnderShim, serve } from '../helpers/shim.mjs';
import { rawDnsServer } from './dns-raw-server.mjs';

const program = () => buildC('dnsrace', [join(root, 'test/adversarial/c/dnsrace.c')], { libs: ['-lpthread'] });
const RESOLVER = '127.0.0.53';
const POLICY = { TETHERED_ALLOW: '*.allowed.test,127.0.0.2', TETHERED_ALLOW_LOCALHOST: '0' };
const OFF = { TETHERED_ALLOW: undefined };

describe('races against the DNS hooks and the address check', { skip: NEEDS_NETNS }, () => {
    const s = serve({ dns: () => rawDnsServer({ 'aaaa.allowed.test': '127.0.0.2' }) });

    const CASES = [
        ['swap', 'a datagram query sent on a number moved to a TCP socket to the same server', 'x.allowed.test', 'stolen.refused.test'],
        ['mmsg', 'sendmmsg with a query after another message, its name switched by another thread', 'aaaa.allowed.test', 'aaaa.refused.test'],
    ];
    for (const [mode, what, allowed, refused] of CASES) {
        const args = (count) => [mode, RESOLVER, allowed, refused, String(count)];
        test(`${what}: the refused name never reaches the server`, async () => {
            s.dns.forget();
            const r = await runUnderShim(program(), args(mode === 'swap' ? 20000 : 3000), POLICY);
            assert.match(r.stdout, /^ok \d+ \d+$/, r.stderr);
            assert.equal(await s.dns.asked(refused, 500), false, r.stdout);
            assert.equal(await s.dns.asked(allowed, 200), true, 'the allowed query went out');
        });
        test(`${what}: without tethered the refused name reaches the server (positive control); log-only lets it through, reported`, async () => {
            s.dns.forget();
            const off = await runUnderShim(program(), args(mode === 'swap' ? 20000 : 3000), OFF, { preload: false });
            assert.match(off.stdout, /^ok \d+ 0$/, off.stderr);
            assert.equal(await s.dns.asked(refused, 1000), true, off.stdout);
            s.dns.forget();
            const logged = await runUnderShim(program(), args(mode === 'swap' ? 20000 : 3000), { ...POLICY, TETHERED_MODE: 'log' });
            assert.match(logged.stdout, /^ok \d+ 0$/, logged.stderr);
            assert.ok(logged.events.some((e) => e.decision === 'would-block' && e.host === refused), JSON.stringify(logged.events.slice(0, 3)));
        });
    }

    test('AF_UNSPEC on a raw IPv6 socket is judged as the IPv6 address the kernel reads: blocked; with tethered off, in log-only mode and with a rule for it, it arrives', async () => {
        const raw6 = (env, options) => runUnderShim(program(), ['raw6', '127.0.0.2', '::1'], env, options);
        const blocked = await raw6(POLICY);
        assert.equal(blocked.stdout, 'error EACCES', blocked.stderr);
        assert.ok(blocked.events.some((e) => e.decision === 'block' && e.ip === '::1'), JSON.stringify(blocked.events));
        const off = await raw6(OFF, { preload: false });
        assert.equal(off.stdout, 'ok received', off.stderr);
        const logged = await raw6({ ...POLICY, TETHERED_MODE: 'log' });
        assert.equal(logged.stdout, 'ok received', logged.stderr);
        assert.ok(logged.events.some((e) => e.decision === 'would-block' && e.ip === '::1'), JSON.stringify(logged.events));
        const allowed = await raw6({ ...POLICY, TETHERED_ALLOW: '127.0.0.2,::1' });
        assert.equal(allowed.stdout, 'ok received', allowed.stderr);
    });
});
