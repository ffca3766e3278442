// The CLI's helpful errors: comma-separated rules, a missing policy file, run warning as check does, a
// misspelt TETHERED_* variable, and `tethered env`, whose lines refuse to export a shim that is not there.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { PAIRWISE_WARNING_LIMIT, policyWarnings } from '../../dist/cli/policy-options.js';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { netprobe, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tethered-errors-'));
const tethered = (args, env = {}) => runUnderShim(process.execPath, [cli, ...args], { TETHERED_LOG: undefined, ...env }, { preload: false });

describe('helpful errors', () => {
    test("--allow 'a,b' is two rules, as TETHERED_ALLOW reads it", async () => {
        const r = await tethered(['check', '--no-config', 'a.example.test:443,b.example.test:443']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^allow {2}a\.example\.test:443\nallow {2}b\.example\.test:443$/m);
        const env = await tethered(['run', '--no-config', '--allow', 'a.example.test:443,B.example.test:443', '--', 'sh', '-c', 'echo "$TETHERED_ALLOW"']);
        assert.equal(env.stdout, 'a.example.test:443,b.example.test:443');
        const empty = await tethered(['run', '--no-config', '--allow', 'a.example.test,', '--', 'true']);
        assert.equal(empty.code, 2);
        assert.match(empty.stderr, /empty/i);
    });

    test('a missing policy file says "not found"', async () => {
        const r = await tethered(['run', '--policy', join(dir, 'nope.json'), '--', 'true']);
        assert.equal(r.code, 2);
        assert.match(r.stderr, /Tethered policy file \S+nope\.json not found/);
    });

    test("run --allow '*.com' warns as check does, and still runs", async () => {
        const r = await tethered(['run', '--no-config', '--allow', '*.com', '--', 'sh', '-c', 'exit 4']);
        assert.equal(r.code, 4);
        assert.match(r.stderr, /tethered run: warning: '\*\.com' is over-broad/);
        const clean = await tethered(['run', '--no-config', '--allow', 'api.example.com:443', '--', 'true']);
        assert.equal(clean.stderr, '');
    });

    test('a policy too large for the pairwise warnings still gets the over-broad ones, at once', () => {
        const allow = [...Array.from({ length: PAIRWISE_WARNING_LIMIT }, (_, i) => `h${i}.example.test:443`), '*.com'];
        const started = Date.now();
        const warnings = policyWarnings({ allow, deny: [], policy: { allowLocalhost: true } });
        assert.deepEqual(warnings, ["'*.com' is over-broad: it matches names anywhere under the top-level domain 'com'"]);
        assert.ok(Date.now() - started < 2000, 'linear, not rules²');
    });

    test('a misspelt TETHERED_* variable is flagged with the name meant', async () => {
        const r = await tethered(['run', '--no-config', '--', 'true'], { TETHERED_ALOW: 'api.example.test' });
        assert.match(r.stderr, /tethered: warning: TETHERED_ALOW is not a variable tethered reads; it has no effect \(did you mean TETHERED_ALLOW\?\)/);
        const known = await tethered(['run', '--no-config', '--', 'true'], { TETHERED_MODE: 'log' });
        assert.doesNotMatch(known.stderr, /warning/);
    });
});

describe('tethered env', { skip: NEEDS_NETNS }, () => {
    const s = serve({ allowed: () => tcpServer('127.0.0.2'), other: () => tcpServer('127.0.0.4') });
    // Asynchronous: the peers live in this process and must answer while the shell runs.
    const shell = async (script, input = '') => {
        const child = spawn('sh', ['-c', script], { env: { PATH: process.env.PATH }, stdio: ['pipe', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
        child.stdin.end(input);
        const [status] = await once(child, 'close');
        return { status, stdout, stderr };
    };

    test('eval "$(tethered env …)" enforces the policy on the commands that follow', async () => {
        const lines = execFileSync(process.execPath, [cli, 'env', '--no-config', '--no-localhost', '--allow', `127.0.0.2:${s.allowed.port}`], { encoding: 'utf8' });
        assert.match(lines, /^if \[ -r '\/\S+\/libtethered\.so' \]; then\n {2}export LD_PRELOAD='\/\S+libtethered\.so'\n {2}export TETHERED_ALLOW='127\.0\.0\.2:\d+'\n/);
        const before = s.other.connections;
        const script = `eval "$(cat)" || exit 9; ${netprobe()} connect-ip 127.0.0.2 ${s.allowed.port}; ${netprobe()} connect-ip 127.0.0.4 ${s.other.port}`;
        const r = await shell(script, lines);
        const [first, second] = r.stdout.trim().split('\n');
        assert.match(first, /^ok/);
        assert.equal(second, 'error EACCES');
        assert.equal(s.other.connections, before, 'the destination outside the policy saw nothing');
        // Control: without the eval the same probe reaches the peer.
        assert.match((await shell(`${netprobe()} connect-ip 127.0.0.4 ${s.other.port}`)).stdout, /^ok/);
        assert.equal(s.other.connections, before + 1);
    });

    test('when the library is gone at eval time, nothing is exported and the eval fails', () => {
        const lines = execFileSync(process.execPath, [cli, 'env', '--no-config', '--allow', 'a.example.test'], { encoding: 'utf8' });
        const shim = lines.match(/-r '([^']+)'/)[1];
        const moved = lines.split(shim).join(join(dir, 'gone', 'libtethered.so'));
        const run = spawnSync('sh', ['-c', 'eval "$(cat)"; echo "status=$? LD_PRELOAD=${LD_PRELOAD:-unset}"'], { input: moved, encoding: 'utf8', env: { PATH: process.env.PATH } });
        assert.equal(run.stdout.trim(), 'status=1 LD_PRELOAD=unset');
        assert.match(run.stderr, /libtethered\.so is missing; nothing exported, egress would not be enforced/);
    });

    test('a bad rule makes the eval fail with the message, never an empty success', () => {
        const out = spawnSync(process.execPath, [cli, 'env', '--no-config', '--allow', 'https://x.example.test'], { encoding: 'utf8' });
        assert.equal(out.status, 2);
        const run = spawnSync('sh', ['-c', 'eval "$(cat)"; echo "status=$?"'], { input: out.stdout, encoding: 'utf8', env: { PATH: process.env.PATH } });
        assert.equal(run.stdout.trim(), 'status=1');
        assert.match(run.stderr, /tethered env: Invalid tethered rule/);
    });
});
