// AllowPolicy's API beyond the vectors: explanations, argument checking, immutability.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRequire } from 'node:module';
import * as esm from 'tethered';
import { AllowPolicy, InvalidRuleError } from 'tethered';

describe('AllowPolicy', () => {
    const policy = new AllowPolicy(['*.stripe.com:443', 'db.internal:5432', '10.0.0.0/8'], { deny: ['evil.stripe.com'] });

    test('explains an allow with the rule that matched', () => {
        const e = policy.explain('API.Stripe.com.', 443);
        assert.deepEqual(
            { ...e },
            {
                allowed: true,
                reason: 'allow-rule',
                rule: '*.stripe.com:443',
                suggestion: null,
                host: 'api.stripe.com',
                ip: null,
                port: 443,
                message: "api.stripe.com:443 is allowed by '*.stripe.com:443'",
            },
        );
    });

    test('explains a block with the rule that would allow it', () => {
        const e = policy.explain('api.evil.test', 443);
        assert.equal(e.allowed, false);
        assert.equal(e.reason, 'no-rule');
        assert.equal(e.suggestion, 'api.evil.test:443');
        assert.equal(e.message, "api.evil.test:443 is not in the allow list — allow it with 'api.evil.test:443'");
        // The suggestion is itself a rule that allows the destination.
        assert.ok(new AllowPolicy([e.suggestion]).isAllowed('api.evil.test', 443));
    });

    test('suggests a bracketed rule for an IPv6 destination', () => {
        const e = policy.explain('2001:DB8::7', 8443);
        assert.equal(e.suggestion, '[2001:db8::7]:8443');
        assert.equal(e.ip, '2001:db8::7');
        assert.ok(new AllowPolicy([e.suggestion]).isAllowed('2001:db8::7', 8443));
    });

    test('names the deny rule that won', () => {
        const e = policy.explain('evil.stripe.com', 443);
        assert.equal(e.reason, 'deny-rule');
        assert.equal(e.rule, 'evil.stripe.com');
        assert.equal(e.suggestion, null);
        assert.match(e.message, /denied by 'evil\.stripe\.com' \(deny rules win over allow rules\)/);
    });

    test('explains a connect judged by the name it was resolved from', () => {
        const e = policy.explainConnect('192.0.2.9', 443, ['evil.example.test']);
        assert.equal(e.message, "evil.example.test:443 (192.0.2.9) is not in the allow list — allow it with 'evil.example.test:443'");
        const ok = policy.explainConnect('192.0.2.9', 443, ['x.example.test', 'pay.stripe.com']);
        assert.equal(ok.allowed, true);
        assert.equal(ok.host, 'pay.stripe.com');
        assert.equal(ok.rule, '*.stripe.com:443');
    });

    test('explains an invalid destination', () => {
        const e = policy.explain('exa mple.com', 443);
        assert.equal(e.reason, 'invalid-host');
        assert.match(e.message, /"exa mple\.com" is not a valid destination/);
    });

    test('without a port, asks whether any port is allowed (the lookup question)', () => {
        assert.equal(policy.isAllowed('api.stripe.com'), true);
        assert.equal(policy.isAllowed('db.internal'), true);
        assert.equal(policy.isAllowed('stripe.com'), false);
        assert.equal(policy.explain('db.internal').port, null);
    });

    test('rejects ports that are not ports', () => {
        for (const port of [-1, 65536, 1.5, Number.NaN, '443']) {
            assert.throws(() => policy.isAllowed('api.stripe.com', port), RangeError, String(port));
        }
    });

    test('rejects arguments of the wrong type', () => {
        assert.throws(() => policy.isAllowed(42, 443), TypeError);
        assert.throws(() => new AllowPolicy('api.stripe.com'), TypeError);
        assert.throws(() => new AllowPolicy([], { deny: 'x.com' }), TypeError);
        assert.throws(() => new AllowPolicy([], { allowLocalhost: 'no' }), TypeError);
        assert.throws(() => new AllowPolicy([42]), TypeError);
        assert.throws(() => policy.isConnectAllowed('api.stripe.com', 443, []), TypeError);
        assert.throws(() => policy.isConnectAllowed('192.0.2.1', 443, 'x.com'), TypeError);
    });

    test('throws for the first invalid rule, quoting it', () => {
        assert.throws(
            () => new AllowPolicy(['ok.example.test', 'https://api.stripe.com/v1', '10.1']),
            (err) => err instanceof InvalidRuleError && err.rule === 'https://api.stripe.com/v1' && err.message.includes("use host:port, e.g. 'api.stripe.com:443'"),
        );
    });

    test('is immutable after construction', () => {
        assert.ok(Object.isFrozen(policy));
        assert.ok(Object.isFrozen(policy.allow));
        assert.ok(Object.isFrozen(policy.allow[0]));
        assert.throws(() => {
            policy.allow.push('x');
        }, TypeError);
        const rules = ['a.example.test'];
        const p = new AllowPolicy(rules);
        rules.push('b.example.test');
        assert.equal(p.isAllowed('b.example.test', 1), false);
    });

    test('exposes the parsed rules in normal form and order', () => {
        assert.deepEqual(policy.allow.map((r) => r.text), ['*.stripe.com:443', 'db.internal:5432', '10.0.0.0/8']);
        assert.deepEqual(policy.deny.map((r) => r.text), ['evil.stripe.com']);
        assert.equal(policy.allowLocalhost, true);
    });
});

describe('package entry points', () => {
    test('ESM and CommonJS share one instance of every class', () => {
        const cjs = createRequire(import.meta.url)('tethered');
        assert.equal(esm.AllowPolicy, cjs.AllowPolicy);
        assert.equal(esm.InvalidRuleError, cjs.InvalidRuleError);
        assert.deepEqual(Object.keys(esm).filter((k) => k !== 'default').sort(), Object.keys(cjs).sort());
    });
});
