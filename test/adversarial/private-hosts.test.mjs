// A name rule is for the name as the policy's own /etc/hosts and name servers answer it. Any program may make a
// user namespace of its own, with a mount namespace, and bind-mount another /etc/hosts there: the allowed
// name then answered the address of its choosing, and the connect to it was allowed by the name (attacker's
// review). Names answered in another mount namespace than the one the policy was given in (a child gets
// that one in TETHERED_MOUNT_NS) now vouch for no address. Control: the same program without tethered
// reaches the peer; at home the name still works.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildC, root } from '../helpers/cbuild.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';

const program = () => buildC('hostsns', [join(root, 'test/adversarial/c/hostsns.c')]);
const NAME = 'api.example.test'; // 127.0.0.2 in the suite's /etc/hosts; the private one says 127.0.0.3

describe('names answered in a private mount namespace', { skip: NEEDS_NETNS }, () => {
    const s = serve({ home: () => tcpServer('127.0.0.2'), evil: () => tcpServer('127.0.0.3') });
    const POLICY = () => ({ TETHERED_ALLOW: `${NAME}:${s.evil.port}`, TETHERED_ALLOW_LOCALHOST: '0' });
    const run = (mode, env, preload = true) => runUnderShim(program(), [mode, NAME, '127.0.0.3', String(s.evil.port)], env, { preload });

    for (const mode of ['here', 'child']) {
        const where = mode === 'here' ? 'the process enters it' : 'a process started inside it';
        test(`${where}: the private answer vouches for nothing — blocked, and said once`, async () => {
            const before = s.evil.connections;
            const r = await run(mode, POLICY());
            assert.equal(r.stdout, 'error EACCES 127.0.0.3', r.stderr);
            assert.equal(s.evil.connections, before);
            assert.deepEqual(r.events.map((e) => [e.decision, e.ip, e.host]), [['block', '127.0.0.3', null]]);
            assert.equal(r.stderr.match(/another mount namespace/g)?.length, 1, r.stderr);
        });
        test(`${where}: without tethered the private /etc/hosts takes the connect to the other peer (positive control)`, async () => {
            const before = s.evil.connections;
            const r = await run(mode, {}, false);
            assert.match(r.stdout, /^ok 127\.0\.0\.3 pong:hostsns/, r.stderr);
            assert.equal(s.evil.connections, before + 1);
        });
        test(`${where}: log-only lets it through and reports it`, async () => {
            const r = await run(mode, { ...POLICY(), TETHERED_MODE: 'log' });
            assert.match(r.stdout, /^ok 127\.0\.0\.3 /, r.stderr);
            assert.deepEqual(r.events.map((e) => [e.decision, e.ip]), [['would-block', '127.0.0.3']]);
        });
        test(`${where}: a rule for the address itself allows it`, async () => {
            const r = await run(mode, { ...POLICY(), TETHERED_ALLOW: `${NAME}:${s.evil.port},127.0.0.3:${s.evil.port}` });
            assert.match(r.stdout, /^ok 127\.0\.0\.3 /, r.stderr);
            assert.deepEqual(r.events, []);
        });
    }

    test('at home the name rule works as before: the name resolves to its own address and connects', async () => {
        const r = await runUnderShim(program(), ['plain', NAME, '127.0.0.3', String(s.home.port)], { TETHERED_ALLOW: `${NAME}:${s.home.port}`, TETHERED_ALLOW_LOCALHOST: '0' });
        assert.match(r.stdout, /^ok 127\.0\.0\.2 pong:hostsns/, r.stderr);
        assert.deepEqual(r.events, []);
    });
});
