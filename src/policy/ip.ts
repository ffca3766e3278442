/**
 * IP address parsing and formatting, with no dependency on the host: the policy must read an address the way
 * the C library will, not the way `net.isIP` happens to.
 *
 * IPv4 is a uint32 number; IPv6 is four uint32 words, most significant first.
 */

export type Ipv6Words = readonly [number, number, number, number];

export type IpAddress = { readonly family: 4; readonly v4: number } | { readonly family: 6; readonly v6: Ipv6Words };

const MAX_U32 = 0xffffffff;

function isDigit(c: number): boolean {
    return c >= 0x30 && c <= 0x39;
}

function hexValue(c: number): number {
    if (c >= 0x30 && c <= 0x39) return c - 0x30;
    const lower = c | 0x20;
    if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
    return -1;
}

/**
 * Every spelling glibc's `inet_aton` accepts without trailing garbage (what `getaddrinfo` and
 * `gethostbyname` treat as numeric): one to four parts separated by dots, each decimal, octal (leading 0) or
 * hex (0x); the last part fills the remaining bytes (`127.1`, `2130706433`, `0x7f.0.0.1`, `0177.0.0.1`).
 * Returns the address as a uint32, or -1 when `text` is not such a literal.
 */
export function parseInetAton(text: string): number {
    const parts: number[] = [];
    let i = 0;
    const n = text.length;
    for (;;) {
        if (i >= n || !isDigit(text.charCodeAt(i))) return -1;
        let base = 10;
        let value = 0;
        let digits = 0;
        if (text.charCodeAt(i) === 0x30) {
            i++;
            const next = i < n ? text.charCodeAt(i) | 0x20 : 0;
            if (next === 0x78) {
                base = 16;
                i++;
            } else {
                base = 8;
                digits = 1; // a lone 0 is a digit
            }
        }
        for (; i < n; i++) {
            const c = text.charCodeAt(i);
            const d = base === 16 ? hexValue(c) : isDigit(c) ? c - 0x30 : -1;
            if (d < 0) break;
            if (d >= base) return -1; // 8 or 9 in an octal part
            value = value * base + d;
            if (value > MAX_U32) return -1;
            digits++;
        }
        if (digits === 0) return -1; // "0x" with no hex digit
        if (i < n && text.charCodeAt(i) === 0x2e) {
            if (parts.length === 3 || value > 0xff) return -1;
            parts.push(value);
            i++;
            continue;
        }
        if (i !== n) return -1;
        const room = 4 - parts.length; // bytes left for the last part
        if (room < 4 && value >= 2 ** (8 * room)) return -1;
        let result = value;
        for (let p = 0; p < parts.length; p++) result += (parts[p] as number) * 2 ** (8 * (3 - p));
        return result;
    }
}

/**
 * Canonical dotted quad only (`10.1.2.3`): what a rule must say. Returns the uint32 or -1.
 */
export function parseDottedQuad(text: string): number {
    const parts = text.split('.');
    if (parts.length !== 4) return -1;
    let result = 0;
    for (const part of parts) {
        if (part.length === 0 || part.length > 3) return -1;
        if (part.length > 1 && part.charCodeAt(0) === 0x30) return -1; // leading zero reads as octal in C
        for (let i = 0; i < part.length; i++) if (!isDigit(part.charCodeAt(i))) return -1;
        const value = Number(part);
        if (value > 255) return -1;
        result = result * 256 + value;
    }
    return result;
}

/**
 * RFC 4291 text form, with an optional embedded dotted quad in the last 32 bits. No zone id, no brackets.
 * Returns the four words, or null.
 */
export function parseIpv6(text: string): Ipv6Words | null {
    if (text.length < 2 || text.length > 45) return null;
    let head = text;
    let tailV4 = -1;
    const lastColon = text.lastIndexOf(':');
    if (lastColon >= 0 && text.indexOf('.', lastColon) > 0) {
        tailV4 = parseDottedQuad(text.slice(lastColon + 1));
        if (tailV4 < 0) return null;
        // keep the colon so that "::1.2.3.4" leaves "::" and "a::b:1.2.3.4" leaves "a::b:"
        head = text.slice(0, lastColon + 1);
        if (head.endsWith('::')) {
            // fine: the compressed run ends right before the dotted quad
        } else if (head.length > 1) {
            head = head.slice(0, -1);
        } else {
            return null;
        }
    }
    const groupsWanted = tailV4 >= 0 ? 6 : 8;
    const doubleAt = head.indexOf('::');
    if (doubleAt >= 0 && head.indexOf('::', doubleAt + 1) >= 0) return null;
    const parseGroups = (s: string): number[] | null => {
        if (s === '') return [];
        const out: number[] = [];
        for (const g of s.split(':')) {
            if (g.length === 0 || g.length > 4) return null;
            let v = 0;
            for (let i = 0; i < g.length; i++) {
                const d = hexValue(g.charCodeAt(i));
                if (d < 0) return null;
                v = v * 16 + d;
            }
            out.push(v);
        }
        return out;
    };
    let groups: number[];
    if (doubleAt >= 0) {
        const left = parseGroups(head.slice(0, doubleAt));
        const right = parseGroups(head.slice(doubleAt + 2));
        if (!left || !right) return null;
        const missing = groupsWanted - left.length - right.length;
        if (missing < 1) return null;
        groups = [...left, ...new Array<number>(missing).fill(0), ...right];
    } else {
        const all = parseGroups(head);
        if (!all || all.length !== groupsWanted) return null;
        groups = all;
    }
    if (tailV4 >= 0) groups.push(Math.floor(tailV4 / 65536), tailV4 % 65536);
    const word = (k: number): number => ((groups[2 * k] as number) * 65536 + (groups[2 * k + 1] as number)) >>> 0;
    return [word(0), word(1), word(2), word(3)];
}

/** `::ffff:a.b.c.d` is the IPv4 address a.b.c.d. */
export function unmapIpv4(words: Ipv6Words): number {
    return words[0] === 0 && words[1] === 0 && words[2] === 0xffff ? words[3] : -1;
}

export function formatIpv4(v4: number): string {
    return `${(v4 >>> 24) & 0xff}.${(v4 >>> 16) & 0xff}.${(v4 >>> 8) & 0xff}.${v4 & 0xff}`;
}

/** RFC 5952: lower case, no leading zeros, the longest run (2+ groups, first if tied) of zeros as `::`. */
export function formatIpv6(words: Ipv6Words): string {
    const groups: number[] = [];
    for (const w of words) groups.push(w >>> 16, w & 0xffff);
    let bestStart = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
        if (groups[i] !== 0) {
            i++;
            continue;
        }
        let j = i;
        while (j < 8 && groups[j] === 0) j++;
        if (j - i > bestLen) {
            bestStart = i;
            bestLen = j - i;
        }
        i = j;
    }
    const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
    if (bestStart < 0) return hex(groups);
    return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export function formatIp(ip: IpAddress): string {
    return ip.family === 4 ? formatIpv4(ip.v4) : formatIpv6(ip.v6);
}

/** The address with every bit past `prefix` cleared. */
export function maskIpv4(v4: number, prefix: number): number {
    if (prefix <= 0) return 0;
    if (prefix >= 32) return v4 >>> 0;
    return (v4 & (MAX_U32 << (32 - prefix))) >>> 0;
}

export function maskIpv6(words: Ipv6Words, prefix: number): Ipv6Words {
    const out = [0, 0, 0, 0];
    for (let k = 0; k < 4; k++) out[k] = maskIpv4(words[k] as number, prefix - 32 * k);
    return out as unknown as Ipv6Words;
}

export function ipv6Key(words: Ipv6Words): string {
    return `${words[0]}.${words[1]}.${words[2]}.${words[3]}`;
}

/** The loopback, unspecified and IPv4-mapped forms that `allowLocalhost` lets through. */
export function isLocalhostIp(ip: IpAddress): boolean {
    if (ip.family === 4) return ip.v4 >>> 24 === 127 || ip.v4 === 0;
    const [a, b, c, d] = ip.v6;
    return a === 0 && b === 0 && c === 0 && (d === 0 || d === 1);
}
