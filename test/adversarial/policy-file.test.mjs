// Issue 9 item 3: a policy file (TETHERED_POLICY_FILE) or rule that cannot be used never hangs the program
// and never turns into a wider policy. A FIFO or a directory blocks all egress and says why once; a NUL or
// control character inside a rule makes the whole policy unusable instead of cutting the rule short (a
// cut allow rule is a wider allow, a cut deny rule a narrower deny).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { netprobe, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';

const dir = mkdtempSync(join(tmpdir(), 'tethered-policy-file-'));
function file(name, text) {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
}
function fifo(name) {
    const path = join(dir, name);
    execFileSync('mkfifo', [path]);
    return path;
}
const BLOCKED_ALL = /all network egress of this process is blocked/;

describe('a policy file that cannot be used blocks everything, at once', { skip: NEEDS_NETNS }, () => {
    const s = serve({ a: () => tcpServer('127.0.0.2'), b: () => tcpServer('127.0.0.3') });
    const probe = (ip, env) =>
        runUnderShim(netprobe(), ['connect-ip', ip, String(ip === '127.0.0.2' ? s.a.port : s.b.port)], { TETHERED_LOG: 'off', TETHERED_ALLOW_LOCALHOST: '0', ...env }, { timeoutMs: 10000 });

    /** Blocked, on time, with one line saying why; and the peer saw nothing. */
    async function assertUnusable(env, why) {
        const before = s.a.connections;
        const r = await probe('127.0.0.2', env);
        assert.equal(r.signal, null, 'it finished on its own');
        assert.equal(r.stdout, 'error EACCES');
        assert.equal(s.a.connections, before, 'the marker did not arrive');
        const lines = r.stderr.split('\n').filter(Boolean);
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0], why);
        assert.match(lines[0], BLOCKED_ALL);
    }

    test('positive control: the same probe reaches the peer with a usable policy file, and without the shim', async () => {
        assert.equal((await probe('127.0.0.2', { TETHERED_POLICY_FILE: file('good.json', '{"allow": ["127.0.0.2"]}') })).stdout, 'ok pong:ping');
        const off = await runUnderShim(netprobe(), ['connect-ip', '127.0.0.2', String(s.a.port)], {}, { preload: false });
        assert.equal(off.stdout, 'ok pong:ping');
    });

    const UNREADABLE = [
        ['a FIFO nobody writes to', () => fifo('policy.fifo'), /cannot read the policy file .*policy\.fifo: it is a FIFO, not a regular file/],
        ['a symlink to a FIFO', () => {
            const link = join(dir, 'policy-link.json');
            symlinkSync(fifo('target.fifo'), link);
            return link;
        }, /policy-link\.json: it is a FIFO, not a regular file/],
        ['a directory', () => {
            const d = join(dir, 'policy-dir');
            mkdirSync(d);
            return d;
        }, /policy-dir: it is a directory, not a regular file/],
        ['/dev/zero (an endless device)', () => '/dev/zero', /\/dev\/zero: it is not a regular file/],
        ['missing', () => join(dir, 'missing.json'), /missing\.json: not found/],
    ];
    for (const [what, make, why] of UNREADABLE) {
        test(`a policy file that is ${what} does not hang the program: all egress is blocked, said once`, async () => {
            // TETHERED_ALLOW would let the probe through: the unusable file must still block everything.
            await assertUnusable({ TETHERED_POLICY_FILE: make(), TETHERED_ALLOW: '127.0.0.2' }, why);
        });
    }

    // Each rule as JSON source text: the escape is decoded by the reader, so the shim sees the raw character.
    const CONTROLS = ['\\u0000', '\\n', '\\t', '\\u001f', '\\u007f', '\\u0085'];
    for (const c of CONTROLS) {
        test(`a ${c} inside an allow rule makes the policy unusable instead of cutting the rule to a wider one`, async () => {
            // Cut at the control character, "127.0.0.3<c>.allowed.test" would be 127.0.0.3: allowed.
            const path = file(`allow-${CONTROLS.indexOf(c)}.json`, `{"allow": ["127.0.0.2", "127.0.0.3${c}.allowed.test"]}`);
            const before = s.b.connections;
            const r = await probe('127.0.0.3', { TETHERED_POLICY_FILE: path });
            assert.equal(r.stdout, 'error EACCES');
            assert.equal(s.b.connections, before, 'the marker did not arrive');
            const quoted = c === '\\n' ? '\\u000a' : c === '\\t' ? '\\u0009' : c;
            assert.ok(r.stderr.includes(`"127.0.0.3${quoted}.allowed.test" contains a control character`), r.stderr);
            // Unusable, not merely narrower: the rule that is fine (127.0.0.2) does not work either.
            await assertUnusable({ TETHERED_POLICY_FILE: path }, /contains a control character/);
        });
    }

    test('a \\u0000 inside a deny rule makes the policy unusable instead of cutting the deny to a narrower one', async () => {
        // Control: the deny rule as meant blocks 127.0.0.3 and leaves 127.0.0.2 allowed.
        const meant = file('deny-meant.json', '{"allow": ["127.0.0.0/8"], "deny": ["127.0.0.3"]}');
        assert.equal((await probe('127.0.0.2', { TETHERED_POLICY_FILE: meant })).stdout, 'ok pong:ping');
        assert.equal((await probe('127.0.0.3', { TETHERED_POLICY_FILE: meant })).stdout, 'error EACCES');
        const cut = file('deny-nul.json', '{"allow": ["127.0.0.0/8"], "deny": ["127.0.0.0/8\\u0000:443"]}');
        await assertUnusable({ TETHERED_POLICY_FILE: cut }, /"127\.0\.0\.0\/8\\u0000:443" contains a control character/);
    });

    test('a raw control byte or a NUL in a key or in "mode" is refused too', async () => {
        await assertUnusable({ TETHERED_POLICY_FILE: file('raw.json', '{"allow": ["127.0.0.2\x01"]}') }, /a control character inside a string/);
        await assertUnusable({ TETHERED_POLICY_FILE: file('key.json', '{"allow\\u0000x": ["127.0.0.2"]}') }, /"allow\\u0000x" contains a control character/);
        await assertUnusable({ TETHERED_POLICY_FILE: file('mode.json', '{"allow": [], "mode": "log\\u0000"}') }, /"log\\u0000" contains a control character/);
    });

    test('a control character inside a TETHERED_ALLOW or TETHERED_DENY rule makes the policy unusable', async () => {
        await assertUnusable({ TETHERED_ALLOW: '127.0.0.2,127.0.0.3\x01.allowed.test' }, /invalid rule "127\.0\.0\.3\\u0001\.allowed\.test": it contains a control character/);
        await assertUnusable({ TETHERED_ALLOW: '127.0.0.0/8', TETHERED_DENY: '127.0.0.3\x7f' }, /invalid rule "127\.0\.0\.3\\u007f": it contains a control character/);
        // Control: without the control character the deny rule is a fine rule.
        assert.equal((await probe('127.0.0.2', { TETHERED_ALLOW: '127.0.0.0/8', TETHERED_DENY: '127.0.0.3' })).stdout, 'ok pong:ping');
    });
});
