// What `tethered check` reports: coverage between rules, over-broad rules, dead and redundant rules.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseRule } from 'tethered';
import { analysePolicy } from '../../dist/policy/analyse.js';
import { covers, overBroad, patternMatches } from '../../dist/policy/coverage.js';

const r = parseRule;

describe('covers', () => {
    const cases = [
        ['*.stripe.com', 'api.stripe.com:443', true],
        ['*.stripe.com', 'a.b.stripe.com', true],
        ['*.stripe.com', 'stripe.com', false],
        ['*.stripe.com', 'evilstripe.com', false],
        ['*.stripe.com', '*.api.stripe.com', true],
        ['*.stripe.com', 'api-*.stripe.com', true],
        ['*.api.stripe.com', '*.stripe.com', false],
        ['*.stripe.com:443', '*.stripe.com', false],
        ['*.stripe.com', '*.stripe.com:443', true],
        ['api-*.stripe.com', 'api-eu.stripe.com', true],
        ['api-*.stripe.com', 'api.stripe.com', false],
        ['api-*.stripe.com', '*.stripe.com', false],
        ['a.example.test', 'a.example.test:443', true],
        ['a.example.test:443', 'a.example.test', false],
        ['a.example.test:1-1000', 'a.example.test:443', true],
        ['a.example.test:1-1000', 'a.example.test:443-2000', false],
        ['10.0.0.0/8', '10.1.0.0/16', true],
        ['10.0.0.0/8', '10.1.2.3', true],
        ['10.0.0.0/8', '11.0.0.0/16', false],
        ['10.1.0.0/16', '10.0.0.0/8', false],
        ['0.0.0.0/0', '192.0.2.1:443', true],
        ['[2001:db8::]/32', '[2001:db8:1::]/48', true],
        ['[2001:db8::]/32', '[2001:db9::]/48', false],
        ['10.0.0.0/8', '[2001:db8::]/32', false],
        ['10.0.0.0/8', 'ten.example.test', false],
        ['*.example.test', '10.0.0.1', false],
    ];
    for (const [outer, inner, expected] of cases) {
        test(`'${outer}' ${expected ? 'covers' : 'does not cover'} '${inner}'`, () => {
            assert.equal(covers(r(outer), r(inner)), expected);
        });
    }

    test('patternMatches agrees with the policy on wildcard neighbours', () => {
        assert.equal(patternMatches(['*', 'stripe', 'com'], 'a.b.stripe.com'), true);
        assert.equal(patternMatches(['*', 'stripe', 'com'], 'stripe.com'), false);
        assert.equal(patternMatches(['api-*', 'stripe', 'com'], 'api-eu.x.stripe.com'), false);
    });
});

describe('overBroad', () => {
    for (const [rule, broad] of [
        ['*.com', true],
        ['*.co.uk', true],
        ['api.*', true],
        ['*.stripe.com', false],
        ['0.0.0.0/0', true],
        ['16.0.0.0/4', true],
        ['10.0.0.0/8', false],
        ['[::]/0', true],
        ['[2001:db8::]/32', false],
        ['api.stripe.com', false],
    ]) {
        test(`'${rule}' is ${broad ? '' : 'not '}over-broad`, () => {
            assert.equal(overBroad(r(rule)) !== null, broad);
        });
    }
});

describe('analysePolicy', () => {
    test('reports each rule in normal form and every invalid rule', () => {
        const a = analysePolicy({ allow: ['API.stripe.com:443', 'https://x.com', '10.1'], deny: ['*'] });
        assert.deepEqual(a.rules.map((x) => x.text), ['api.stripe.com:443', null, null, null]);
        assert.equal(a.errors.length, 3);
    });

    test('warns about duplicates, shadowed, dead, redundant and over-broad rules', () => {
        const a = analysePolicy({
            allow: ['api.stripe.com:443', '*.stripe.com', 'API.STRIPE.COM:443', 'x.evil.test', '127.0.0.1', '*.com', 'ok.example.test'],
            deny: ['*.evil.test'],
        });
        const kinds = a.warnings.map((w) => `${w.kind} ${w.rule}`).sort();
        assert.deepEqual(kinds, [
            'dead x.evil.test',
            'duplicate api.stripe.com:443',
            'over-broad *.com',
            'redundant-localhost 127.0.0.1',
            'shadowed *.stripe.com',
            'shadowed api.stripe.com:443',
        ]);
        const dead = a.warnings.find((w) => w.kind === 'dead');
        assert.equal(dead.message, "'x.evil.test' never allows anything: deny rule '*.evil.test' covers it");
    });

    test('localhost rules are not redundant when allowLocalhost is off', () => {
        const a = analysePolicy({ allow: ['127.0.0.1:5432', 'localhost'], allowLocalhost: false });
        assert.deepEqual(a.warnings, []);
    });

    test('a clean policy has no warnings', () => {
        const a = analysePolicy({ allow: ['*.stripe.com:443', 'db.internal:5432', '10.0.0.0/8'], deny: ['10.6.6.0/24'] });
        assert.deepEqual(a.warnings, []);
    });
});
