// The shim's DNS message reader (native/shim/dns.c), which judges queries programs send themselves and
// learns the answers: ordinary messages, compression, and hostile input (truncated, looping or forward
// pointers, oversized names and records) — never a read out of bounds (also run under ASan/UBSan).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildC, matcherSources, root } from '../helpers/cbuild.mjs';

const sanitize = process.env.TETHERED_SANITIZE === '1';

function driver() {
    return buildC('dns_driver', [join(root, 'test/native/c/dns_driver.c'), join(root, 'native/shim/dns.c'), ...matcherSources()], { sanitize });
}

function run(...messages) {
    const r = spawnSync(driver(), messages.map((m) => m.toString('hex')), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return r.stdout.trimEnd().split('\n');
}

const name = (n) => Buffer.concat([...n.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
const header = ({ id = 0x1234, flags = 0x0100, qd = 1, an = 0 } = {}) => {
    const h = Buffer.alloc(12);
    h.writeUInt16BE(id, 0);
    h.writeUInt16BE(flags, 2);
    h.writeUInt16BE(qd, 4);
    h.writeUInt16BE(an, 6);
    return h;
};
const question = (n, type = 1) => Buffer.concat([name(n), Buffer.from([0, type, 0, 1])]);
const answer = (owner, type, rdata) => {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(type, 0);
    fixed.writeUInt16BE(1, 2);
    fixed.writeUInt32BE(60, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([owner, fixed, rdata]);
};
const PTR_TO_QUESTION = Buffer.from([0xc0, 0x0c]);

describe('DNS message reader', () => {
    test('reads the question name of a query, in normal form', () => {
        assert.deepEqual(run(Buffer.concat([header(), question('API.Example.TEST')])), ['api.example.test']);
    });

    test('records A and AAAA answers, owner names compressed or not; skips other types', () => {
        const msg = Buffer.concat([
            header({ flags: 0x8180, an: 4 }),
            question('api.example.test'),
            answer(PTR_TO_QUESTION, 1, Buffer.from([127, 0, 0, 2])),
            answer(name('api.example.test'), 28, Buffer.from('20010db8000000000000000000000001', 'hex')),
            answer(PTR_TO_QUESTION, 5, name('cname.example.test')),
            answer(PTR_TO_QUESTION, 1, Buffer.from([127, 0, 0, 5])),
        ]);
        assert.deepEqual(run(msg), ['api.example.test api.example.test=127.0.0.2 api.example.test=2001:db8::1 api.example.test=127.0.0.5']);
    });

    test('refuses what is not a readable question: short header, no question, truncated or reserved labels', () => {
        const full = Buffer.concat([header(), question('api.example.test')]);
        const bad = [
            Buffer.alloc(0),
            header().subarray(0, 11),
            Buffer.concat([header({ qd: 0 }), question('api.example.test')]),
            full.subarray(0, 20), // a label cut short
            Buffer.concat([header(), Buffer.from([3, 0x61, 0x62])]), // label longer than what is left
            Buffer.concat([header(), Buffer.from([0x40, 0x61, 0])]), // reserved label type 01
            Buffer.concat([header(), Buffer.from([0x80, 0x61, 0])]), // reserved label type 10
            Buffer.concat([header(), Buffer.from([0xc0])]), // a pointer cut in half
        ];
        assert.deepEqual(run(...bad), bad.map(() => '-'));
    });

    test('refuses forward and self-referencing compression pointers (no loops)', () => {
        const self = Buffer.concat([header(), Buffer.from([0xc0, 0x0c])]);
        const forward = Buffer.concat([header(), Buffer.from([0xc0, 0x0e, 0, 0]), question('a.test')]);
        const loop = Buffer.concat([header({ flags: 0x8180, an: 1 }), question('a.test'), answer(Buffer.from([0xc0, 0x1c]), 1, Buffer.from([1, 2, 3, 4]))]);
        const [s, f, l] = run(self, forward, loop);
        assert.equal(s, '-');
        assert.equal(f, '-');
        assert.equal(l, 'a.test', 'the question reads; the answer whose owner points at itself is dropped');
    });

    test('refuses a name over 255 bytes, and names with characters no DNS name has', () => {
        const long = Buffer.concat([header(), question(Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.'))]);
        const odd = Buffer.concat([header(), question('a b.example')]);
        assert.deepEqual(run(long, odd), ['-', '-']);
    });

    test('stops at an answer whose data runs past the end, keeping the ones before', () => {
        const good = answer(PTR_TO_QUESTION, 1, Buffer.from([127, 0, 0, 2]));
        const cut = answer(PTR_TO_QUESTION, 1, Buffer.from([127, 0, 0, 3])).subarray(0, 13);
        const msg = Buffer.concat([header({ flags: 0x8180, an: 3 }), question('api.example.test'), good, cut]);
        assert.deepEqual(run(msg), ['api.example.test api.example.test=127.0.0.2']);
    });

    test('A records of the wrong length are not addresses', () => {
        const msg = Buffer.concat([header({ flags: 0x8180, an: 2 }), question('a.test'), answer(PTR_TO_QUESTION, 1, Buffer.from([1, 2, 3])), answer(PTR_TO_QUESTION, 28, Buffer.from([1, 2, 3, 4]))]);
        assert.deepEqual(run(msg), ['a.test']);
    });

    test('a 64 KiB message claiming 65,535 answers is read in bounded time and space', () => {
        const one = answer(PTR_TO_QUESTION, 1, Buffer.from([10, 0, 0, 1]));
        const msg = Buffer.concat([header({ flags: 0x8180, an: 0xffff }), question('a.test'), ...Array.from({ length: 4000 }, () => one)]);
        const [line] = run(msg);
        assert.equal(line.split(' ').length - 1, 256, 'at most 256 answers are recorded');
    });

    test('20,000 random and mutated messages: no crash', () => {
        const r = spawnSync(driver(), ['fuzz', '7', '20000'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
    });
});
