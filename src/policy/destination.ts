/**
 * Destinations in normal form (docs/rules.md, Destinations): lower case, one trailing dot removed, IPv6 zone id removed,
 * IPv4-mapped IPv6 read as IPv4, and any name the C library would read as an IPv4 literal (`127.1`,
 * `0x7f.0.0.1`, `2130706433`) read as that address. A name DNS could not hold is `invalid`: it matches no
 * name rule.
 */
import { asciiLower, hasNonAscii, nameProblem, toAsciiName } from './hostname.js';
import { type IpAddress, parseInetAton, parseIpv6, unmapIpv4 } from './ip.js';

export type Destination =
    | { readonly kind: 'ip'; readonly ip: IpAddress }
    | { readonly kind: 'name'; readonly name: string }
    | { readonly kind: 'invalid'; readonly text: string; readonly problem: string };

const NUMERIC_LAST_LABEL = /(?:^|\.)(?:0x[0-9a-f]*|[0-9]+)$/;

function invalid(text: string, problem: string): Destination {
    return { kind: 'invalid', text, problem };
}

export function ipDestination(ip: IpAddress): Destination {
    if (ip.family === 6) {
        const v4 = unmapIpv4(ip.v6);
        if (v4 >= 0) return { kind: 'ip', ip: { family: 4, v4 } };
    }
    return { kind: 'ip', ip };
}

export function normaliseDestination(host: string): Destination {
    if (typeof host !== 'string') throw new TypeError(`A destination host must be a string, got ${typeof host}`);
    let text = host;
    if (text.length > 1 && text.charCodeAt(0) === 0x5b && text.charCodeAt(text.length - 1) === 0x5d) {
        text = text.slice(1, -1);
        if (!text.includes(':')) return invalid(host, 'only IPv6 addresses are written in brackets');
    }
    text = asciiLower(text);
    if (text.includes(':')) {
        const zone = text.indexOf('%');
        const words = parseIpv6(zone >= 0 ? text.slice(0, zone) : text);
        if (!words) return invalid(host, 'it is not a valid IPv6 address');
        return ipDestination({ family: 6, v6: words });
    }
    const stripped = text.endsWith('.') ? text.slice(0, -1) : text;
    const v4 = parseInetAton(stripped);
    if (v4 >= 0) return { kind: 'ip', ip: { family: 4, v4 } };
    const name = toAsciiName(text);
    if (name === null) return invalid(host, 'it is not a valid internationalised host name');
    if (NUMERIC_LAST_LABEL.test(name)) {
        return invalid(
            host,
            hasNonAscii(text) ? 'it is a Unicode spelling of a number, not a host name' : 'it is neither a host name nor an IPv4 address',
        );
    }
    const problem = nameProblem(name, false);
    return problem ? invalid(host, problem) : { kind: 'name', name };
}
