// The native matcher (libtethered.so's policy code) against the shared vector file: the same decisions, the
// same normal forms, the same rejections as the TypeScript engine. Also run under ASan/UBSan.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { normaliseDestination, parseRule } from '../../dist/policy/index.js';
import { formatIp } from '../../dist/policy/ip.js';
import { buildC, matcherSources, root } from '../helpers/cbuild.mjs';
import { caseTitle, vectors } from '../helpers/vectors.mjs';

const hex = (s) => `x${Buffer.from(s, 'utf8').toString('hex')}`;
const unhex = (h) => (h === '-' ? null : Buffer.from(h, 'hex').toString('utf8'));

// Destinations whose normal form both layers must agree on, beyond the vectors: every branch of the
// native IDNA subset, and spellings near the edges of the address parsers.
const DESTINATIONS = [
    'bücher.example', 'BÜCHER.EXAMPLE', 'ÀÉÎÕÜÝÞ.example', 'straße.example', 'ĀĂĄĆĈĊČĎĐ.example', 'ŁŃŅŇŊŌŎŐŒ.example',
    'ŔŖŘŚŜŞŠŢŤŦŨŪŬŮŰŲŴŶŸŹŻŽ.example', 'ſ.example', 'ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ.example', 'ΆΈΉΊΌΎΏ.example', 'ς.example',
    'ЁЂЃЄЅІЇЈЉЊЋЌЍЎЏ.example', 'АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ.example', 'пример.испытание', '中文.example',
    'ひらがな.example', 'カタカナ.example', '한국어.example', 'ｅｘａｍｐｌｅ．ｔｅｓｔ', 'a\u00adb.example', 'a\u200bb.example',
    'a\ufeffb.example', 'a\ufe0fb.example', 'ª.example', 'µ.example', 'a\u200cb.example', 'x.com。', '１２７.０.０.１', 'ü.1', 'ü%41.example', 'ü/x.example',
    '127.1', '0x7f.1', '0177.0.0.1', '2130706433', '4294967296', '1.2.3.4.', '1.2.3.4..', '[::1]', '[::ffff:1.2.3.4]',
    '::FFFF:102:304', 'fe80::1%eth0', '[fe80::1%25eth0]', '1::2::3', '::ffff:1.2.3', 'a..b', '.a', 'a.', '.', '',
    `${'a'.repeat(63)}.example`, `${'a'.repeat(64)}.example`, `${'a.'.repeat(126)}a`, `${'a.'.repeat(127)}a`, 'a_b.example',
    'a*b.example', 'A-B.EXAMPLE.',
    // one normal form: UTS #46 lowering, never JavaScript's context-sensitive toLowerCase
    'EVIL.Σ', 'evil.σ', 'evil.ς', 'ΣΑΣ.example', 'İ.example', 'ı.example', 'ẞ.example', 'Ĳ.example', 'ŀ.example', 'ŉ.example', '\u212a.example',
    '😀.example', 'xn--ls8h.example', 'XN--4XA.example',
    // punycode that is not the normal form of a label: refused by both
    'xn--a.example', 'xn--abc-.example', 'xn--xn--4xa.example', 'xn--.example', 'xn---4xa.example',
];

// Names outside the native IDNA subset (combining marks, right-to-left scripts, joiners: code points whose
// mapping depends on their neighbours): TypeScript converts them, the native layer treats them as no DNS
// name, so they match no rule there. The difference only ever blocks more (docs/rules.md, Unicode names).
const NATIVE_STRICTER = ['e\u0301.example', 'עברית.example', 'مثال.example', 'a\u0308.example'];

function tsDestination(host) {
    const d = normaliseDestination(host);
    if (d.kind === 'ip') return `ip ${formatIp(d.ip)}`;
    if (d.kind === 'name') return `name ${d.name}`;
    return 'invalid';
}

/** Every command for the driver, and what to check on each answer, in order. */
function script() {
    const lines = [];
    const checks = [];
    for (const group of vectors.groups) {
        const deny = group.deny ?? [];
        lines.push(`P ${group.allowLocalhost === false ? 0 : 1} ${group.allow.length} ${group.allow.map(hex).join(' ')} ${deny.length} ${deny.map(hex).join(' ')}`.replace(/ +/g, ' '));
        checks.push({ title: `compile ${group.name}`, kind: 'compile' });
        for (const c of group.cases) {
            const port = c.port === null ? '-' : String(c.port);
            lines.push(c.host !== undefined ? `H ${hex(c.host)} ${port}` : `C ${hex(c.ip)} ${port} ${c.names.length} ${c.names.map(hex).join(' ')}`.trimEnd());
            checks.push({ title: `${group.name}: ${caseTitle(c)}`, kind: 'decision', c });
        }
    }
    for (const c of vectors.normal) {
        lines.push(`R ${hex(c.rule)}`);
        checks.push({ title: `normal form of ${JSON.stringify(c.rule)}`, kind: 'normal', c });
    }
    for (const c of vectors.invalid) {
        lines.push(`R ${hex(c.rule)}`);
        checks.push({ title: `rejects ${JSON.stringify(c.rule)}`, kind: 'invalid', c });
    }
    for (const d of DESTINATIONS) {
        lines.push(`D ${hex(d)}`);
        checks.push({ title: `normalises ${JSON.stringify(d)} as TypeScript does`, kind: 'destination', d });
    }
    for (const d of NATIVE_STRICTER) {
        lines.push(`D ${hex(d)}`);
        checks.push({ title: `treats ${JSON.stringify(d)} as no DNS name`, kind: 'stricter', d });
    }
    return { input: `${lines.join('\n')}\n`, checks };
}

// Images go to a directory of this run's own (the driver writes one per policy group).
const imageHome = mkdtempSync(join(tmpdir(), 'tethered-matcher-'));

/** `args`: [] decides from the compiled policy; ['image'] from its image loaded back through the sealed
 * memfd; ['image', 'file'] through the image file. */
function runDriver(sanitize, args = []) {
    const driver = buildC('policy-driver', [...matcherSources(), join(root, 'test/native/c/policy_driver.c')], { sanitize });
    const { input, checks } = script();
    const env = { ...process.env, ASAN_OPTIONS: 'detect_leaks=1', XDG_RUNTIME_DIR: imageHome };
    const r = spawnSync(driver, args, { input, encoding: 'utf8', maxBuffer: 64 << 20, env });
    return { r, checks, answers: r.stdout.split('\n') };
}

function verify(checks, answers) {
    checks.forEach((check, i) => {
        const answer = answers[i] ?? '';
        const [a, b, c] = answer.split(' ');
        switch (check.kind) {
            case 'compile':
                assert.equal(answer, 'ok', `${check.title}: ${a} ${unhex(b ?? '')} ${unhex(c ?? '')}`);
                break;
            case 'decision': {
                const expected = check.c;
                assert.equal(a === '1', expected.allowed, `${check.title}: native said ${answer}`);
                if (expected.reason) assert.equal(b, expected.reason, `${check.title}: native reason`);
                if (expected.rule) assert.equal(unhex(c), expected.rule, `${check.title}: native rule`);
                break;
            }
            case 'normal':
                assert.equal(a, 'ok', `${check.title}: ${unhex(c ?? '')}`);
                assert.equal(b, check.c.kind, check.title);
                assert.equal(unhex(c), check.c.text, check.title);
                break;
            case 'invalid':
                assert.equal(a, 'error', `${check.title}: native accepted it as ${unhex(c ?? '')}`);
                assert.ok(unhex(b).includes(check.c.message), `${check.title}: native reason ${JSON.stringify(unhex(b))} says ${JSON.stringify(check.c.message)}`);
                break;
            case 'destination':
                assert.equal(answer, tsDestination(check.d), check.title);
                break;
            case 'stricter':
                assert.equal(answer, 'invalid', check.title);
                assert.match(tsDestination(check.d), /^name xn--|^name ij/, check.title);
                break;
        }
    });
}

describe('native matcher', () => {
    test('gives the TypeScript answers on every vector, normal form, rejection and destination', () => {
        const { r, checks, answers } = runDriver(false);
        assert.equal(r.status, 0, r.stderr);
        verify(checks, answers);
        assert.ok(checks.filter((c) => c.kind === 'decision').length >= 300);
    });

    test('does the same under AddressSanitizer and UndefinedBehaviorSanitizer, with no report', () => {
        const { r, checks, answers } = runDriver(true);
        assert.equal(r.stderr, '');
        assert.equal(r.status, 0);
        verify(checks, answers);
    });

    test('gives the same answers from a policy image loaded back through its sealed memfd', () => {
        const compiled = runDriver(false);
        const { r, checks, answers } = runDriver(false, ['image']);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, '');
        verify(checks, answers);
        assert.deepEqual(answers, compiled.answers);
    });

    test('gives the same answers from a policy image read back from its file, under ASan/UBSan', () => {
        const compiled = runDriver(false);
        const { r, checks, answers } = runDriver(true, ['image', 'file']);
        assert.equal(r.stderr, '');
        assert.equal(r.status, 0);
        verify(checks, answers);
        assert.deepEqual(answers, compiled.answers);
    });

    test('normal forms it prints parse again in TypeScript to the same rule', () => {
        for (const c of vectors.normal) assert.equal(parseRule(c.text).text, c.text);
    });
});
