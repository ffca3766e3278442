// `tethered check`, run as a user runs it: the installed bin, real files, exit codes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';

const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tethered-check-'));

function tethered(...args) {
    const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout, err: r.stderr };
}

function policyFile(name, content) {
    const path = join(dir, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
}

describe('tethered check', () => {
    test('prints valid rules in normal form and exits 0', () => {
        const r = tethered('check', 'API.Stripe.com.:443', 'bücher.example', '[2001:DB8::]/32');
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /^allow {2}api\.stripe\.com:443 {4}\(written "API\.Stripe\.com\.:443"\)$/m);
        assert.match(r.out, /^allow {2}xn--bcher-kva\.example /m);
        assert.match(r.out, /^allow {2}\[2001:db8::\]\/32 /m);
        assert.match(r.out, /^3 valid rules, 0 invalid, 0 warnings$/m);
    });

    test('exits 2 on an invalid rule and prints the error with the fix', () => {
        const r = tethered('check', 'ok.example.test', 'https://api.stripe.com/v1');
        assert.equal(r.code, 2);
        assert.match(r.err, /Invalid tethered rule "https:\/\/api\.stripe\.com\/v1": a URL is not a rule — use host:port, e\.g\. 'api\.stripe\.com:443'/);
    });

    test('warns about over-broad and shadowed rules; --strict makes warnings fail', () => {
        const r = tethered('check', '*.com', 'api.stripe.com:443', '0.0.0.0/0');
        assert.equal(r.code, 0);
        assert.match(r.out, /warning: '\*\.com' is over-broad/);
        assert.match(r.out, /warning: '0\.0\.0\.0\/0' is over-broad: it allows every IPv4 address/);
        assert.match(r.out, /warning: 'api\.stripe\.com:443' is shadowed by '\*\.com'/);
        assert.equal(tethered('check', '--strict', '*.com').code, 1);
        assert.equal(tethered('check', '--strict', 'api.stripe.com:443').code, 0);
    });

    test('reads allow and deny rules from a policy file', () => {
        const file = policyFile('p.json', { allow: ['*.example.test', 'x.bad.test'], deny: ['*.bad.test'], allowLocalhost: false });
        const r = tethered('check', '--policy', file, 'extra.example.org:443');
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /^allow {2}\*\.example\.test$/m);
        assert.match(r.out, /^allow {2}extra\.example\.org:443$/m);
        assert.match(r.out, /^deny {3}\*\.bad\.test$/m);
        assert.match(r.out, /localhost: needs a rule/);
        assert.match(r.out, /warning: 'x\.bad\.test' never allows anything: deny rule '\*\.bad\.test' covers it/);
    });

    test('--deny adds deny rules', () => {
        const r = tethered('check', '*.example.test', '--deny', 'evil.example.test', '--deny', '*.example.test');
        assert.match(r.out, /^deny {3}evil\.example\.test$/m);
        assert.match(r.out, /warning: '\*\.example\.test' never allows anything/);
    });

    test('exits 2 on a broken policy file, naming it', () => {
        const cases = [
            ['bad.json', '{"allow": [', /is not valid JSON/],
            ['typo.json', { alow: ['x.example.test'] }, /unknown key "alow"/],
            ['shape.json', { allow: 'x.example.test' }, /"allow" must be an array of rule strings/],
            ['mode.json', { allow: [], mode: 'block' }, /"mode" must be "enforce" or "log"/],
            ['list.json', ['x.example.test'], /must be a JSON object/],
        ];
        for (const [name, content, pattern] of cases) {
            const file = policyFile(name, content);
            const r = tethered('check', '--policy', file);
            assert.equal(r.code, 2, name);
            assert.ok(r.err.includes(file), r.err);
            assert.match(r.err, pattern);
        }
        const missing = tethered('check', '--policy', join(dir, 'missing.json'));
        assert.equal(missing.code, 2);
        assert.match(missing.err, /policy file \S+missing\.json not found/);
    });

    test('--json prints a machine-readable report', () => {
        const r = tethered('check', '--json', 'API.example.test', '*.com', 'bad rule');
        assert.equal(r.code, 2);
        const report = JSON.parse(r.out);
        assert.equal(report.valid, false);
        assert.deepEqual(report.rules.map((x) => x.text), ['api.example.test', '*.com', null]);
        assert.match(report.rules[2].error, /whitespace/);
        assert.deepEqual(report.warnings.map((w) => w.kind), ['over-broad']);
    });

    test('no rules, unknown options and unknown commands exit 2 with usage', () => {
        assert.equal(tethered('check').code, 2);
        const bad = tethered('check', '--frobnicate');
        assert.equal(bad.code, 2);
        assert.match(bad.err, /Usage: tethered check/);
        const unknown = tethered('frobnicate');
        assert.equal(unknown.code, 2);
        assert.match(unknown.err, /unknown command 'frobnicate'/);
        assert.equal(tethered('check', '--help').code, 0);
        assert.equal(tethered('--help').code, 0);
    });
});
