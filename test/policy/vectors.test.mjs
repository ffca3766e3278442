// The TypeScript engine against the shared vector file (the reference answers for every matcher).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { AllowPolicy, InvalidRuleError, parseRule } from 'tethered';
import { caseTitle, vectors } from '../helpers/vectors.mjs';

describe('policy vectors: decisions', () => {
    for (const group of vectors.groups) {
        describe(group.name, () => {
            const policy = new AllowPolicy(group.allow, { deny: group.deny ?? [], allowLocalhost: group.allowLocalhost ?? true });
            for (const c of group.cases) {
                test(caseTitle(c), () => {
                    const port = c.port === null ? undefined : c.port;
                    const explained = c.host !== undefined ? policy.explain(c.host, port) : policy.explainConnect(c.ip, port, c.names);
                    const allowed = c.host !== undefined ? policy.isAllowed(c.host, port) : policy.isConnectAllowed(c.ip, port, c.names);
                    assert.equal(allowed, c.allowed, explained.message);
                    assert.equal(explained.allowed, c.allowed, explained.message);
                    if (c.reason) assert.equal(explained.reason, c.reason, explained.message);
                    if (c.rule) assert.equal(explained.rule, c.rule, explained.message);
                });
            }
        });
    }
});

describe('policy vectors: normal forms', () => {
    for (const c of vectors.normal) {
        test(`${JSON.stringify(c.rule)} is written ${c.text}`, () => {
            const rule = parseRule(c.rule);
            assert.equal(rule.text, c.text);
            assert.equal(rule.kind, c.kind);
            // The normal form is itself a rule with the same normal form.
            assert.equal(parseRule(rule.text).text, c.text);
        });
    }
});

describe('policy vectors: rules that must be rejected', () => {
    for (const c of vectors.invalid) {
        test(`rejects ${JSON.stringify(c.rule)}: ${c.message}`, () => {
            assert.throws(
                () => new AllowPolicy([c.rule]),
                (err) => {
                    assert.ok(err instanceof InvalidRuleError, `expected InvalidRuleError, got ${err}`);
                    assert.equal(err.code, 'ERR_TETHERED_INVALID_RULE');
                    assert.equal(err.rule, c.rule);
                    assert.ok(err.message.includes(JSON.stringify(c.rule)), `message quotes the rule: ${err.message}`);
                    assert.ok(err.reason.includes(c.message), `reason ${JSON.stringify(err.reason)} says ${JSON.stringify(c.message)}`);
                    if (c.hint) assert.ok(err.hint?.includes(c.hint), `hint ${JSON.stringify(err.hint)} says ${JSON.stringify(c.hint)}`);
                    return true;
                },
            );
            // The same grammar applies to deny rules.
            assert.throws(() => new AllowPolicy([], { deny: [c.rule] }), InvalidRuleError);
        });
    }
});

test('the vector file keeps at least 300 decision cases and covers every group kind', () => {
    const cases = vectors.groups.flatMap((g) => g.cases);
    assert.ok(cases.length >= 300, `${cases.length} cases`);
    assert.ok(cases.some((c) => c.port === null), 'lookup cases');
    assert.ok(cases.some((c) => c.names), 'connect cases with names');
    assert.ok(vectors.groups.some((g) => g.allowLocalhost === false), 'allowLocalhost: false');
    assert.ok(vectors.groups.some((g) => g.deny?.length), 'deny rules');
    assert.ok(vectors.invalid.length >= 50, `${vectors.invalid.length} invalid rules`);
});
