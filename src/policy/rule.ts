/**
 * The rule grammar (docs/rules.md, Grammar): `TARGET` or `TARGET:PORTS`, where TARGET is a host name, a wildcard
 * host name, an IPv4 or IPv6 address, or a CIDR range. `parseRule` either returns the rule in its normal form
 * or throws an `InvalidRuleError` that quotes the rule and says how to write it.
 */
import { InvalidRuleError } from './errors.js';
import { hasNonAscii, nameProblem, toAsciiName } from './hostname.js';
import {
    type IpAddress,
    formatIpv4,
    formatIpv6,
    maskIpv4,
    maskIpv6,
    parseDottedQuad,
    parseInetAton,
    parseIpv6,
    unmapIpv4,
} from './ip.js';

export interface PortRange {
    readonly low: number;
    readonly high: number;
}

interface RuleBase {
    /** The rule as it was given, before trimming. */
    readonly source: string;
    /** The normal form: what `check` prints and what events name. */
    readonly text: string;
    /** null: any port. */
    readonly ports: PortRange | null;
}

/** An exact host name: `api.stripe.com`. */
export interface NameRule extends RuleBase {
    readonly kind: 'name';
    readonly name: string;
}

/**
 * A host name with `*`: a leftmost label `*` stands for one or more labels; a `*` within any other label
 * matches characters within that one label. `labels` are left to right.
 */
export interface WildcardRule extends RuleBase {
    readonly kind: 'wildcard';
    readonly labels: readonly string[];
}

/** One address (prefix 32 or 128) or a CIDR range. IPv4-mapped IPv6 rules are stored as IPv4. */
export interface AddressRule extends RuleBase {
    readonly kind: 'address';
    readonly ip: IpAddress;
    readonly prefix: number;
}

export type Rule = NameRule | WildcardRule | AddressRule;

const SERVICE_PORTS: Readonly<Record<string, number>> = {
    http: 80,
    https: 443,
    ws: 80,
    wss: 443,
    ftp: 21,
    ssh: 22,
    smtp: 25,
    dns: 53,
    domain: 53,
    postgres: 5432,
    postgresql: 5432,
    mysql: 3306,
    redis: 6379,
    mongodb: 27017,
    amqp: 5672,
};

function portSuffix(ports: PortRange | null): string {
    if (!ports) return '';
    return ports.low === ports.high ? `:${ports.low}` : `:${ports.low}-${ports.high}`;
}

function fail(source: string, reason: string, hint: string | null = null): never {
    throw new InvalidRuleError(source, reason, hint);
}

function urlHint(text: string): string {
    try {
        const url = new URL(text);
        const port = url.port || SERVICE_PORTS[url.protocol.replace(/:$/, '')];
        const host = url.hostname;
        if (host) return `use host:port, e.g. '${host}${port ? `:${port}` : ''}'`;
    } catch {
        // not even a URL the WHATWG parser accepts: fall through to the generic hint
    }
    return "use host:port, e.g. 'api.example.com:443'";
}

function parsePorts(source: string, text: string | null): PortRange | null {
    if (text === null) return null;
    if (text === '') fail(source, 'the port is missing after ":"', 'leave out the ":" to allow any port');
    if (text === '*') fail(source, "'*' is not a port", 'leave out the port to allow any port');
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
    if (!m) {
        const known = SERVICE_PORTS[text.toLowerCase()];
        fail(
            source,
            `'${text}' is not a port number`,
            known
                ? `write the number: ':${known}'`
                : 'a port is a number from 1 to 65535, or a range such as 8000-8100',
        );
    }
    const low = Number(m[1]);
    const high = m[2] === undefined ? low : Number(m[2]);
    for (const p of [low, high]) {
        if (p === 0) fail(source, 'port 0 is not a port a connection can go to', 'ports are 1 to 65535');
        if (p > 65535) fail(source, `port ${p} is out of range`, 'ports are 1 to 65535');
    }
    if (low > high) fail(source, `the port range ${low}-${high} is reversed`, `write ${high}-${low}`);
    return { low, high };
}

function parsePrefix(source: string, text: string, max: number): number {
    if (!/^\d{1,3}$/.test(text)) fail(source, `'/${text}' is not a prefix length`, `a prefix is a number from 0 to ${max}`);
    const prefix = Number(text);
    if (prefix > max) fail(source, `the prefix /${prefix} is out of range`, `${max === 32 ? 'IPv4' : 'IPv6'} prefixes are /0 to /${max}`);
    return prefix;
}

function addressRule(source: string, ip: IpAddress, prefix: number, ports: PortRange | null): AddressRule {
    const full = ip.family === 4 ? 32 : 128;
    const addr = ip.family === 4 ? formatIpv4(ip.v4) : formatIpv6(ip.v6);
    const range = prefix < full ? `/${prefix}` : '';
    // IPv6 is always bracketed in the normal form: unbracketed, '2001:db8::1:443' reads two ways.
    const target = ip.family === 6 ? `[${addr}]${range}` : `${addr}${range}`;
    return { kind: 'address', source, text: `${target}${portSuffix(ports)}`, ports, ip, prefix };
}

function ipv4Rule(source: string, v4: number, prefix: number, ports: PortRange | null): AddressRule {
    const network = maskIpv4(v4, prefix);
    if (network !== v4) {
        const fixed = `${formatIpv4(network)}/${prefix}${portSuffix(ports)}`;
        fail(source, `the address has bits set past /${prefix}`, `did you mean '${fixed}'?`);
    }
    return addressRule(source, { family: 4, v4 }, prefix, ports);
}

function parseIpv6Rule(source: string, body: string, bracketed: boolean, portText: string | null): AddressRule {
    if (body.includes('%')) {
        fail(source, 'a zone id (%eth0) is not part of a rule', `write '${body.slice(0, body.indexOf('%'))}'`);
    }
    const slash = body.indexOf('/');
    const addrText = slash >= 0 ? body.slice(0, slash) : body;
    const prefixText = slash >= 0 ? body.slice(slash + 1) : null;
    if (!bracketed && prefixText !== null && /^\d+:/.test(prefixText)) {
        const [p, port] = prefixText.split(/:(.*)/s);
        fail(source, 'an IPv6 range with a port must be bracketed', `write '[${addrText}]/${p}:${port}'`);
    }
    const words = parseIpv6(addrText);
    if (!bracketed) {
        // "2001:db8::1:443" is a valid address, and also what someone who meant port 443 would type.
        const lastColon = addrText.lastIndexOf(':');
        const before = addrText.slice(0, lastColon);
        const after = addrText.slice(lastColon + 1);
        if (prefixText === null && /^\d+(-\d+)?$/.test(after) && !before.endsWith(':') && parseIpv6(before)) {
            if (!words) {
                fail(source, 'an IPv6 address with a port must be bracketed', `write '[${before}]:${after}'`);
            }
            if (addrText.includes('::')) {
                fail(
                    source,
                    `it is ambiguous: the last group ':${after}' could be a port`,
                    `write '[${before}]:${after}' for port ${after}, or '[${addrText}]' for the address`,
                );
            }
        }
    }
    if (!words) fail(source, `'${addrText}' is not a valid IPv6 address`, "write it as in '2001:db8::1'");
    const prefix = prefixText === null ? 128 : parsePrefix(source, prefixText, 128);
    const ports = parsePorts(source, portText);
    const mapped = unmapIpv4(words);
    if (mapped >= 0 && prefix >= 96) return ipv4Rule(source, mapped, prefix - 96, ports);
    const network = maskIpv6(words, prefix);
    if (network.some((w, k) => w !== words[k])) {
        const fixed = `${formatIpv6(network)}/${prefix}`;
        fail(source, `the address has bits set past /${prefix}`, `did you mean '${ports ? `[${fixed.replace('/', ']/')}` : fixed}${portSuffix(ports)}'?`);
    }
    return addressRule(source, { family: 6, v6: words }, prefix, ports);
}

const NUMERIC_LABEL = /^(?:0x[0-9a-f]*|[0-9]+)$/i;

function parseHostRule(source: string, target: string, ports: PortRange | null): NameRule | WildcardRule {
    for (const label of target.split('.')) {
        if (label.includes('*') && hasNonAscii(label)) {
            fail(source, `the label '${label}' mixes '*' with non-ASCII characters`, 'write that label in punycode (xn--…)');
        }
    }
    const name = toAsciiName(target);
    if (name === null) fail(source, `'${target}' is not a valid internationalised host name`);
    const problem = nameProblem(name, true);
    if (problem) fail(source, `'${target}' is not a valid host name: ${problem}`);
    const labels = name.split('.');
    if (NUMERIC_LABEL.test(labels[labels.length - 1] as string)) {
        fail(source, `'${target}' is neither a host name nor an IPv4 address`, 'IPv4 rules are four numbers 0-255 (10.1.2.3); ranges are CIDR (10.0.0.0/8)');
    }
    if (!name.includes('*')) return { kind: 'name', source, text: `${name}${portSuffix(ports)}`, ports, name };
    if (name.includes('**')) fail(source, "'**' is not a pattern", "use a single '*'");
    if (labels.every((l) => l.includes('*'))) {
        fail(source, 'it matches every host name', "name at least one label literally, e.g. '*.example.com'");
    }
    return { kind: 'wildcard', source, text: `${name}${portSuffix(ports)}`, ports, labels };
}

/** Parses one rule. Throws `InvalidRuleError` (never returns a partial rule). */
export function parseRule(source: string): Rule {
    if (typeof source !== 'string') throw new TypeError(`A tethered rule must be a string, got ${typeof source}`);
    const text = source.trim();
    if (text === '') fail(source, 'the rule is empty', "write a host, host:port or address, e.g. 'api.example.com:443'");
    // eslint-disable-next-line no-control-regex
    if (/[\s\x00-\x1f\x7f]/.test(text)) {
        fail(source, 'it contains whitespace or a control character', 'give each rule as its own entry, e.g. "a.example.com:443"');
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) fail(source, 'a URL is not a rule', urlHint(text));
    if (text.includes('@')) {
        fail(source, 'a rule names a host, not a user (user@host)', `write '${text.slice(text.lastIndexOf('@') + 1)}'`);
    }
    const bracketedIpv6 = text.startsWith('[') && text.split('[').length === 2 && text.split(']').length === 2;
    const glob = /[?{}]/.exec(text) ?? (bracketedIpv6 ? null : /[[\]]/.exec(text));
    if (glob) fail(source, `'${glob[0]}' is not allowed: '*' is the only wildcard`, "e.g. '*.example.com' or 'api-*.example.com'");

    if (text.startsWith('[')) {
        const close = text.indexOf(']');
        const rest = text.slice(close + 1);
        const m = /^(\/[^:]*)?(?::(.*))?$/s.exec(rest);
        if (!m) fail(source, `unexpected '${rest}' after ']'`, 'write [2001:db8::1]:443 or [2001:db8::]/32:443');
        let body = text.slice(1, close);
        if (m[1] !== undefined) {
            if (body.includes('/')) fail(source, 'it has two prefix lengths');
            body += m[1];
        }
        return parseIpv6Rule(source, body, true, m[2] ?? null);
    }
    const colons = text.split(':').length - 1;
    if (colons >= 2) return parseIpv6Rule(source, text, false, null);

    const colon = text.lastIndexOf(':');
    let target = colon >= 0 ? text.slice(0, colon) : text;
    const portText = colon >= 0 ? text.slice(colon + 1) : null;
    if (target === '') fail(source, 'the host is missing before ":"', "e.g. 'api.example.com:443'");
    const slash = text.indexOf('/');
    if (slash >= 0) {
        // Either a CIDR range (10.0.0.0/8[:443]) or a URL path pasted in (api.example.com/v1).
        const head = text.slice(0, slash);
        const v4 = parseDottedQuad(head);
        if (v4 < 0) {
            const aton = parseInetAton(head);
            if (aton >= 0) fail(source, `'${head}' is not a canonical dotted-quad IPv4 address`, `the C library reads it as ${formatIpv4(aton)}`);
            fail(source, 'a rule cannot contain a path', `use host:port, e.g. '${head}${portText && /^\d+$/.test(portText) ? `:${portText}` : ''}'`);
        }
        const tail = text.slice(slash + 1);
        const tailColon = tail.indexOf(':');
        const prefix = parsePrefix(source, tailColon >= 0 ? tail.slice(0, tailColon) : tail, 32);
        return ipv4Rule(source, v4, prefix, parsePorts(source, tailColon >= 0 ? tail.slice(tailColon + 1) : null));
    }
    const ports = parsePorts(source, portText);
    const v4 = parseDottedQuad(target);
    if (v4 >= 0) return ipv4Rule(source, v4, 32, ports);
    const aton = parseInetAton(target);
    if (aton >= 0) {
        fail(source, `'${target}' is not a canonical dotted-quad IPv4 address`, `the C library reads it as ${formatIpv4(aton)}: write '${formatIpv4(aton)}${portSuffix(ports)}'`);
    }
    target = target.replace(/[\u3002\uff0e\uff61]/g, '.');
    return parseHostRule(source, target, ports);
}

export function formatPorts(ports: PortRange | null): string {
    return portSuffix(ports);
}
