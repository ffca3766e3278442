// Address parsing: the policy must read every spelling the way the C library will.
import assert from 'node:assert/strict';
import dns from 'node:dns/promises';
import net from 'node:net';
import { describe, test } from 'node:test';
import { formatIpv4, formatIpv6, parseDottedQuad, parseInetAton, parseIpv6 } from '../../dist/policy/ip.js';
import { NEEDS_NETNS } from '../helpers/netns.mjs';

// Spellings around every branch of inet_aton: bases, part counts, overflow, stray characters.
const IPV4_SPELLINGS = [
    '127.0.0.1', '127.1', '127.0.1', '2130706433', '0x7f000001', '0X7F.1', '0x7f.0.0.1', '0177.0.0.1', '0177.1',
    '00000000000000000000177.1', '0x00000000000000007f.1', '0', '00', '0x0', '255.255.255.255', '4294967295',
    '0xffffffff', '037777777777', '1.16777215', '1.2.65535', '0x', '0x.1', '08', '09.1', '0xg', '4294967296',
    '0x100000000', '040000000000', '1.16777216', '1.2.65536', '256.1', '1.256.1', '1.2.3.256', '1..2', '.1',
    '1.', '1.2.3.4.', '1.2.3.4.5', '1e1', '+1', '-1', ' 1', '1 ', '127.0.0.1x', '0x7f.0x0.0.01', '1.2.3.0x4',
    '1.2.3.08', '1.2.3.07', '',
];

describe('IPv4 spellings (inet_aton)', () => {
    test('known spellings', () => {
        assert.equal(formatIpv4(parseInetAton('127.1')), '127.0.0.1');
        assert.equal(formatIpv4(parseInetAton('2130706434')), '127.0.0.2');
        assert.equal(formatIpv4(parseInetAton('0x7f.0.0.1')), '127.0.0.1');
        assert.equal(formatIpv4(parseInetAton('0177.0.0.1')), '127.0.0.1');
        assert.equal(formatIpv4(parseInetAton('10.1.515')), '10.1.2.3');
        assert.equal(parseInetAton('08'), -1);
        assert.equal(parseInetAton('4294967296'), -1);
        assert.equal(parseInetAton('1.2.3.4.'), -1);
    });

    test('agree with the C library on every spelling', { skip: NEEDS_NETNS }, async () => {
        // getaddrinfo reads a numeric spelling without any query; a spelling it does not read as numeric is
        // looked up as a name, which inside the namespace fails without leaving it.
        for (const spelling of IPV4_SPELLINGS) {
            if (spelling.trim() === '') continue;
            const ours = parseInetAton(spelling);
            let libc = -1;
            try {
                const { address } = await dns.lookup(spelling, { family: 4 });
                libc = parseDottedQuad(address);
            } catch (err) {
                assert.ok(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME'].includes(err.code), `${spelling}: ${err.code}`);
            }
            assert.equal(ours, libc, `${JSON.stringify(spelling)}: ours ${ours < 0 ? 'not an address' : formatIpv4(ours)}, libc ${libc < 0 ? 'not an address' : formatIpv4(libc)}`);
        }
    });

    test('canonical dotted quad only for rules', () => {
        assert.equal(parseDottedQuad('10.1.2.3'), 0x0a010203);
        for (const bad of ['10.1', '010.1.2.3', '10.1.2.3.4', '10.1.2.256', '0x7f.0.0.1', '1.2.3.', '1.2..3']) {
            assert.equal(parseDottedQuad(bad), -1, bad);
        }
    });
});

const IPV6_SPELLINGS = [
    '::', '::1', '1::', '2001:db8::1', '2001:DB8::1', '2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8:0:0:1:0:0:1',
    '::ffff:1.2.3.4', '::1.2.3.4', '64:ff9b::192.0.2.33', 'fe80::1:2:3:4', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:1.2.3.4',
    '1::2:3:4:5:6:7', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:0:0:2::3', '0:0:1::', 'a:b:c:d:e:f:0:0',
    ':::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1::', '1::2:', '12345::', 'g::', '::ffff:1.2.3',
    '::ffff:1.2.3.256', '1.2.3.4::', '::1.2.3.4:5', '1:2:3:4:5:6:7:1.2.3.4', '::01.2.3.4', '[::1]', '::1%eth0',
];

describe('IPv6 spellings', () => {
    test('accepts exactly what net.isIPv6 accepts (no zone ids, no brackets)', () => {
        for (const s of IPV6_SPELLINGS) {
            assert.equal(parseIpv6(s) !== null, net.isIPv6(s) && !s.includes('%'), s);
        }
    });

    test('formats as RFC 5952, the same as the WHATWG URL serializer', () => {
        for (const s of IPV6_SPELLINGS) {
            const words = parseIpv6(s);
            if (!words) continue;
            const whatwg = new URL(`http://[${s}]/`).hostname.slice(1, -1);
            // WHATWG never writes a dotted quad; RFC 5952 does for ::ffff:a.b.c.d. Compare the hex form.
            const ours = formatIpv6(words);
            assert.equal(parseIpv6(whatwg)?.join(','), words.join(','), s);
            if (!s.includes('.')) assert.equal(ours, whatwg, s);
        }
    });
});
