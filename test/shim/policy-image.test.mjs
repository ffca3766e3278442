// A policy of any size reaches children (issue 9 item 5): above 16 KiB of rules, `tethered run` and
// activate() hand children TETHERED_POLICY_IMAGE=<sha256>:<sealed memfd>:<path> in place of the rules.
// Real processes, 100,000 rules: a child and a grandchild still block (EACCES, nothing reaches the peer)
// and still allow (a round trip), with the positive control that the blocked peer is reachable without
// tethered. An image that was changed, is missing or is named wrongly blocks everything with one message;
// an exec given a looser image keeps the parent's; an image directory others can write is refused.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { childEnvironment } from '../../dist/cli/launch.js';
import { AllowPolicy } from '../../dist/index.js';
import { rulesFor } from '../../bench/policy-workload.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { netprobe, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const BIG = 100000;

/** The TETHERED_POLICY_IMAGE value `tethered run` gives a child for these rules (XDG_RUNTIME_DIR: `home`). */
function imageRef(allow, { home } = {}) {
    const saved = process.env.XDG_RUNTIME_DIR;
    if (home) process.env.XDG_RUNTIME_DIR = home;
    try {
        return childEnvironment({ policy: new AllowPolicy(allow, { allowLocalhost: false }), mode: 'enforce', log: 'stderr' }).TETHERED_POLICY_IMAGE;
    } finally {
        if (home) {
            if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
            else process.env.XDG_RUNTIME_DIR = saved;
        }
    }
}

const parts = (ref) => {
    const [hash, fd, ...path] = ref.split(':');
    return { hash, fd, path: path.join(':') };
};
/** The same reference without the descriptor: the child must read the file. */
const fileOnly = (ref) => `${parts(ref).hash}:-:${parts(ref).path}`;
const probe = (ip, port) => [netprobe(), 'connect-ip', ip, String(port)];

describe('policy images', { skip: NEEDS_NETNS }, () => {
    const peers = serve({ allowed: () => tcpServer('127.0.0.2'), blocked: () => tcpServer('127.0.0.3') });
    const bigRules = () => [...rulesFor(BIG), `127.0.0.2:${peers.allowed.port}`];

    test('tethered run with 100,000 rules: a child and a grandchild block (EACCES, peer untouched) and allow (round trip)', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'tethered-image-'));
        const file = join(dir, 'policy.json');
        writeFileSync(file, JSON.stringify({ allow: bigRules() }));
        const np = netprobe();
        const { allowed, blocked } = peers;
        const before = blocked.connections;
        const script = [
            `${np} connect-ip 127.0.0.3 ${blocked.port}`,
            `${np} connect-ip 127.0.0.2 ${allowed.port}`,
            `sh -c '${np} connect-ip 127.0.0.3 ${blocked.port}; ${np} connect-ip 127.0.0.2 ${allowed.port}'`,
            'echo "$TETHERED_POLICY_IMAGE"; env | grep -c "^TETHERED_ALLOW=" || true',
        ].join('; ');
        const r = await runUnderShim(process.execPath, [cli, 'run', '--log', 'off', '--no-localhost', '--policy', file, '--', 'sh', '-c', script], {}, { preload: false, timeoutMs: 120000 });
        const lines = r.stdout.split('\n');
        assert.deepEqual(lines.slice(0, 4), ['error EACCES', 'ok pong:ping', 'error EACCES', 'ok pong:ping'], r.stderr);
        assert.match(lines[4], /^[0-9a-f]{64}:\d+:\/.+\.policy$/, 'the child got a reference to an image, with a descriptor');
        assert.equal(lines[5], '0', 'and no rules in its environment');
        assert.equal(blocked.connections, before, 'nothing reached the blocked peer');
        // positive control: the same probe reaches that peer without tethered
        const control = await runUnderShim(np, ['connect-ip', '127.0.0.3', String(blocked.port)], {}, { preload: false });
        assert.equal(control.stdout, 'ok pong:ping');
        assert.equal(blocked.connections, before + 1);
    });

    test('activate() with 100,000 rules, then child_process.spawn: no E2BIG, the child blocks and allows', async () => {
        const { allowed, blocked } = peers;
        const before = blocked.connections;
        const r = await inFreshNode(`
            const { spawnSync } = require('node:child_process');
            const { rulesFor } = await import(${JSON.stringify(new URL('../../bench/policy-workload.mjs', import.meta.url).href)});
            t.activate({ allow: [...rulesFor(${BIG}), '127.0.0.2:${allowed.port}'], allowLocalhost: false });
            for (const [ip, port] of [['127.0.0.3', ${blocked.port}], ['127.0.0.2', ${allowed.port}]]) {
                const c = spawnSync(${JSON.stringify(netprobe())}, ['connect-ip', ip, String(port)], { encoding: 'utf8' });
                print({ error: c.error ? c.error.code : null, out: c.stdout.trim() });
            }
            print(process.env.TETHERED_POLICY_IMAGE ? 'image' : 'none');
            t.deactivate();
            print(process.env.TETHERED_POLICY_IMAGE ?? 'restored');
        `, { env: { TETHERED_LOG: 'off' } });
        assert.deepEqual(r.results, [{ error: null, out: 'error EACCES' }, { error: null, out: 'ok pong:ping' }, 'image', 'restored'], r.stderr);
        assert.equal(blocked.connections, before);
    });

    test('a child whose inherited memfd is gone reads the file, and hands its own sealed copy on to a grandchild', async () => {
        const ref = fileOnly(imageRef(bigRules()));
        const { allowed, blocked } = peers;
        const np = netprobe();
        const r = await runUnderShim('sh', ['-c', `echo "$TETHERED_POLICY_IMAGE"; ${np} exec-empty-env ${np} connect-ip 127.0.0.3 ${blocked.port}; ${np} exec-empty-env ${np} connect-ip 127.0.0.2 ${allowed.port}`], {
            TETHERED_POLICY_IMAGE: ref,
            TETHERED_LOG: 'off',
        });
        const [seen, ...rest] = r.stdout.split('\n');
        assert.equal(parts(seen).hash, parts(ref).hash);
        assert.match(parts(seen).fd, /^\d+$/, 'the shell names its own sealed copy');
        assert.deepEqual(rest, ['error EACCES', 'ok pong:ping'], r.stderr);
    });

    test('an image file rewritten after chmod u+w blocks everything, with one message; the sealed memfd cannot be rewritten', async () => {
        const home = mkdtempSync(join(tmpdir(), 'tethered-home-'));
        const ref = imageRef([`127.0.0.2:${peers.allowed.port}`, ...rulesFor(2000)], { home });
        const { path, fd } = parts(ref);
        chmodSync(path, 0o600);
        const bytes = readFileSync(path);
        bytes[bytes.length - 1] ^= 1;
        writeFileSync(path, bytes);
        const r = await runUnderShim(...probeArgs(peers.allowed.port), { TETHERED_POLICY_IMAGE: fileOnly(ref), TETHERED_LOG: 'off' });
        assert.equal(r.stdout, 'error EACCES');
        assert.equal(r.stderr.match(/tethered: /g)?.length, 1, r.stderr);
        assert.match(r.stderr, /policy image .* was changed: its content hash is not the one given; all network egress of this process is blocked/);
        // The sealed memfd this process inherited still holds the image as written: the child uses it.
        const sealed = await runUnderShim(...probeArgs(peers.allowed.port), { TETHERED_POLICY_IMAGE: ref, TETHERED_LOG: 'off' });
        assert.equal(sealed.stdout, 'ok pong:ping', sealed.stderr);
        assert.throws(() => writeFileSync(`/proc/self/fd/${fd}`, 'x'), /EPERM|EACCES/);
    });

    test('a missing image, a malformed reference, or rules beside an image block everything with one message', async () => {
        const good = imageRef([`127.0.0.2:${peers.allowed.port}`, ...rulesFor(2000)]);
        const cases = [
            [{ TETHERED_POLICY_IMAGE: `${'0'.repeat(64)}:-:/nonexistent/tethered.policy` }, /cannot use the policy image \/nonexistent\/tethered.policy: No such file/],
            [{ TETHERED_POLICY_IMAGE: '/tmp/x.policy#abc' }, /TETHERED_POLICY_IMAGE must be/],
            [{ TETHERED_POLICY_IMAGE: good, TETHERED_ALLOW: '*.example.com' }, /TETHERED_ALLOW cannot be given with it/],
        ];
        for (const [env, message] of cases) {
            const r = await runUnderShim(...probeArgs(peers.allowed.port), { ...env, TETHERED_LOG: 'off' });
            assert.equal(r.stdout, 'error EACCES', JSON.stringify(env));
            assert.equal(r.stderr.match(/tethered: /g)?.length, 1, r.stderr);
            assert.match(r.stderr, message);
        }
        // and the good reference on its own allows the same connect
        const ok = await runUnderShim(...probeArgs(peers.allowed.port), { TETHERED_POLICY_IMAGE: good, TETHERED_LOG: 'off' });
        assert.equal(ok.stdout, 'ok pong:ping', ok.stderr);
    });

    test('an exec given a looser TETHERED_POLICY_IMAGE gets the parent\'s image instead', async () => {
        const { blocked } = peers;
        const strict = imageRef([`127.0.0.2:${peers.allowed.port}`, ...rulesFor(2000)]);
        const loose = imageRef([`127.0.0.3:${blocked.port}`, ...rulesFor(2001)]);
        const before = blocked.connections;
        // env(1) runs under the strict image and execs the probe with the loose one in its environment
        const swapped = await runUnderShim('env', [`TETHERED_POLICY_IMAGE=${loose}`, ...probe('127.0.0.3', blocked.port)], { TETHERED_POLICY_IMAGE: strict, TETHERED_LOG: 'off' });
        assert.equal(swapped.stdout, 'error EACCES', swapped.stderr);
        assert.equal(blocked.connections, before);
        // positive control: the loose image, given directly, does let it through
        const direct = await runUnderShim(netprobe(), ['connect-ip', '127.0.0.3', String(blocked.port)], { TETHERED_POLICY_IMAGE: loose, TETHERED_LOG: 'off' });
        assert.equal(direct.stdout, 'ok pong:ping', direct.stderr);
        assert.equal(blocked.connections, before + 1);
    });

    test('the same policy written twice is one file; an image directory others can write, or a symlink, is refused', () => {
        const home = mkdtempSync(join(tmpdir(), 'tethered-home-'));
        const rules = rulesFor(3000);
        assert.equal(parts(imageRef(rules, { home })).path, parts(imageRef(rules, { home })).path);
        assert.deepEqual(readdirSync(join(home, 'tethered')).length, 1);
        const mode = execFileSync('stat', ['-c', '%a', join(home, 'tethered')], { encoding: 'utf8' }).trim();
        assert.equal(mode, '700');
        const open = mkdtempSync(join(tmpdir(), 'tethered-home-'));
        mkdirSync(join(open, 'tethered'));
        chmodSync(join(open, 'tethered'), 0o777);
        assert.throws(() => imageRef(rules, { home: open }), /image directory .* is writable by others/);
        const linked = mkdtempSync(join(tmpdir(), 'tethered-home-'));
        symlinkSync(join(home, 'tethered'), join(linked, 'tethered'));
        assert.throws(() => imageRef(rules, { home: linked }), /cannot open the image directory/);
        assert.ok(!existsSync(join(open, 'tethered', `${parts(imageRef(rules, { home })).hash}.policy`)));
    });

    test('an image directory owned by another user is refused', (t) => {
        const home = mkdtempSync(join(tmpdir(), 'tethered-home-'));
        const target = join(home, 'tethered');
        mkdirSync(target);
        // A directory of another user, bound over the image directory (in this mount namespace only).
        const other = ['/usr/share', '/etc/postgresql', '/var/cache/man', '/var/lib/polkit-1'].find((d) => existsSync(d) && statSync(d).uid !== process.getuid());
        if (!other) return t.skip('no directory of another user here');
        try {
            execFileSync('mount', ['--bind', other, target], { stdio: 'ignore' });
        } catch {
            return t.skip('cannot bind-mount here');
        }
        try {
            assert.notEqual(statSync(target).uid, process.getuid());
            assert.throws(() => imageRef(rulesFor(3000), { home }), /image directory .* is owned by another user/);
        } finally {
            execFileSync('umount', [target]);
        }
    });
});

function probeArgs(port) {
    const [cmd, ...args] = probe('127.0.0.2', port);
    return [cmd, args];
}
