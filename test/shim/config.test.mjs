// Preload-mode configuration (SPEC section 6): the environment variables, the policy file, where events
// go, and what a broken policy does.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { logFile, netprobe, readEvents, runUnderShim, sanitize, tcpServer } from '../helpers/shim.mjs';
import { buildC, root } from '../helpers/cbuild.mjs';

const dir = mkdtempSync(join(tmpdir(), 'tethered-config-'));
function file(name, content) {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
}

describe('preload configuration', { skip: NEEDS_NETNS }, () => {
    let server;
    let other;
    before(async () => {
        server = await tcpServer('127.0.0.2');
        other = await tcpServer('127.0.0.3');
    });
    after(async () => {
        await server.close();
        await other.close();
    });
    const probe = (ip, env) => runUnderShim(netprobe(), ['connect-ip', ip, String(ip === '127.0.0.2' ? server.port : other.port)], env);

    test('TETHERED_ALLOW takes rules separated by commas or whitespace', async () => {
        for (const allow of ['127.0.0.2,127.0.0.3', '127.0.0.2 127.0.0.3', ' 127.0.0.2 ,\t127.0.0.3\n']) {
            const env = { TETHERED_ALLOW_LOCALHOST: '0', TETHERED_ALLOW: allow };
            assert.equal((await probe('127.0.0.2', env)).stdout, 'ok pong:ping', JSON.stringify(allow));
            assert.equal((await probe('127.0.0.3', env)).stdout, 'ok pong:ping', JSON.stringify(allow));
        }
    });

    test('TETHERED_DENY blocks what TETHERED_ALLOW lets through', async () => {
        const env = { TETHERED_ALLOW: '127.0.0.0/8', TETHERED_DENY: '127.0.0.3' };
        assert.equal((await probe('127.0.0.2', env)).stdout, 'ok pong:ping');
        assert.equal((await probe('127.0.0.3', env)).stdout, 'error EACCES');
    });

    test('TETHERED_POLICY_FILE gives allow, deny, allowLocalhost and mode; env rules add to it', async () => {
        const policy = file('policy.json', { allow: ['127.0.0.2'], deny: [], allowLocalhost: false, mode: 'enforce' });
        const env = { TETHERED_POLICY_FILE: policy };
        assert.equal((await probe('127.0.0.2', env)).stdout, 'ok pong:ping');
        assert.equal((await probe('127.0.0.3', env)).stdout, 'error EACCES');
        assert.equal((await probe('127.0.0.3', { ...env, TETHERED_ALLOW: '127.0.0.3' })).stdout, 'ok pong:ping');
        const logMode = file('log.json', { allow: [], allowLocalhost: false, mode: 'log' });
        const r = await probe('127.0.0.3', { TETHERED_POLICY_FILE: logMode });
        assert.equal(r.stdout, 'ok pong:ping');
        assert.equal(r.events[0].decision, 'would-block');
    });

    const BROKEN = [
        ['an invalid rule', { TETHERED_ALLOW: 'https://api.example.test' }, /invalid rule "https:\/\/api\.example\.test": a URL is not a rule/],
        ['a rule matching everything', { TETHERED_ALLOW: '*:443' }, /it matches every host name/],
        ['an invalid deny rule', { TETHERED_ALLOW: '127.0.0.2', TETHERED_DENY: '10.1' }, /not a canonical dotted-quad/],
        ['a bad mode', { TETHERED_ALLOW: '127.0.0.2', TETHERED_MODE: 'audit' }, /TETHERED_MODE must be enforce or log/],
        ['a bad flag', { TETHERED_ALLOW: '127.0.0.2', TETHERED_ALLOW_LOCALHOST: 'yes' }, /TETHERED_ALLOW_LOCALHOST must be 1 or 0/],
        ['a missing policy file', { TETHERED_POLICY_FILE: join(dir, 'missing.json') }, /cannot read the policy file .*missing\.json: not found/],
        ['a policy file that is a directory', { TETHERED_POLICY_FILE: dir }, /cannot read the policy file .*: it is a directory, not a regular file/],
        ['a NUL escaped inside a policy-file rule', { TETHERED_POLICY_FILE: file('nul.json', '{"allow": ["127.0.0.2\\u0000.example.test"]}') }, /"127\.0\.0\.2\\u0000\.example\.test" contains a control character/],
        ['a control character inside a TETHERED_ALLOW rule', { TETHERED_ALLOW: '127.0.0.2\x02' }, /invalid rule "127\.0\.0\.2\\u0002": it contains a control character/],
        ['a policy file that is not JSON', { TETHERED_POLICY_FILE: file('bad.json', '{"allow": [') }, /invalid policy file/],
        ['a policy file with a misspelt key', { TETHERED_POLICY_FILE: file('typo.json', { alow: ['127.0.0.2'] }) }, /unknown key "alow"/],
        ['a broken policy even in log mode', { TETHERED_ALLOW: '10.1', TETHERED_MODE: 'log' }, /not a canonical/],
    ];
    for (const [what, env, message] of BROKEN) {
        test(`${what} blocks all egress and says why once on stderr`, async () => {
            const r = await probe('127.0.0.2', { TETHERED_LOG: 'off', ...env });
            assert.equal(r.stdout, 'error EACCES');
            assert.match(r.stderr, message);
            assert.match(r.stderr, /all network egress of this process is blocked/);
            assert.equal(r.stderr.match(/tethered: /g).length, 1, r.stderr);
        });
    }

    test('TETHERED_LOG: a file (appended by every process), stderr by default, or off', async () => {
        const log = logFile();
        await probe('127.0.0.3', { TETHERED_ALLOW: '127.0.0.2', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: log });
        await probe('127.0.0.3', { TETHERED_ALLOW: '127.0.0.2', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: log });
        assert.equal(readEvents(log).length, 2);
        const toStderr = await probe('127.0.0.3', { TETHERED_ALLOW: '', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: 'stderr' });
        const line = JSON.parse(toStderr.stderr.trim());
        assert.equal(line.decision, 'block');
        const unset = await probe('127.0.0.3', { TETHERED_ALLOW: '', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: undefined });
        assert.equal(JSON.parse(unset.stderr.trim()).ip, '127.0.0.3');
        const off = await probe('127.0.0.3', { TETHERED_ALLOW: '', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: 'off' });
        assert.equal(off.stdout, 'error EACCES');
        assert.equal(off.stderr, '');
    });

    test('TETHERED_LOG_ALLOWED records allowed attempts too', async () => {
        const r = await probe('127.0.0.2', { TETHERED_ALLOW: '127.0.0.2', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG_ALLOWED: '1' });
        assert.equal(r.stdout, 'ok pong:ping');
        assert.equal(r.events.length, 1);
        assert.deepEqual([r.events[0].decision, r.events[0].reason, r.events[0].rule], ['allow', 'allow-rule', '127.0.0.2']);
    });

    test('an internal error fails open and says so; TETHERED_FAIL_CLOSED=1 blocks instead', async () => {
        const env = { TETHERED_ALLOW: '', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_INTERNAL_FAULT: 'config' };
        const open = await probe('127.0.0.3', env);
        assert.equal(open.stdout, 'ok pong:ping');
        assert.match(open.stderr, /internal error: .* network egress of this process is NOT checked \(set TETHERED_FAIL_CLOSED=1 to block instead\)/);
        const closed = await probe('127.0.0.3', { ...env, TETHERED_FAIL_CLOSED: '1', TETHERED_LOG: 'stderr' });
        assert.equal(closed.stdout, 'error EACCES');
        assert.match(closed.stderr, /internal error: out of memory while loading the policy: TETHERED_FAIL_CLOSED=1; all network egress of this process is blocked/);
        const event = JSON.parse(closed.stderr.trim().split('\n').pop());
        assert.equal(event.reason, 'internal-error');
        assert.equal(event.error, 'out of memory while loading the policy');
    });

    test('without LD_PRELOAD naming it, a loaded shim stays inactive', async () => {
        // The addon loads the shim itself for in-process activate(); until then it must pass everything.
        const r = await runUnderShim(netprobe(), ['connect-ip', '127.0.0.3', String(other.port)], { TETHERED_ALLOW: '', TETHERED_ALLOW_LOCALHOST: '0' }, { preload: false });
        assert.equal(r.stdout, 'ok pong:ping');
    });
});

describe('the scope API from C', { skip: NEEDS_NETNS }, () => {
    test('a scope narrows the calling thread only, nests without widening, is left again; a bad rule is refused', async () => {
        const a = await tcpServer('127.0.0.2');
        const b = await tcpServer('127.0.0.3');
        try {
            const driver = buildC('scope_driver', [join(root, 'test/native/c/scope_driver.c')], { sanitize, libs: ['-lpthread'] });
            const r = await runUnderShim(driver, [String(a.port), String(b.port)], { TETHERED_ALLOW: '127.0.0.0/8', TETHERED_ALLOW_LOCALHOST: '0' });
            assert.equal(r.code, 0, r.stderr);
            assert.equal(r.stdout, '0 0 13 0 13 0 0 error-reported');
            assert.deepEqual(r.events.map((e) => [e.decision, e.ip, e.scopeLabel]), [['block', '127.0.0.3', 'outer'], ['block', '127.0.0.3', 'outer']]);
        } finally {
            await a.close();
            await b.close();
        }
    });
});
