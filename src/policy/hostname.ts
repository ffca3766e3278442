/**
 * Host names as the policy sees them: lower case, ASCII (IDNA), no trailing dot, labels of letters, digits,
 * hyphen and underscore. Anything else is not a name DNS could answer for, and never matches a name rule.
 */
import { domainToASCII, domainToUnicode } from 'node:url';
import { decodedLabelOk, mapByTable } from './idna.js';

export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

function isLabelChar(c: number): boolean {
    return (
        (c >= 0x61 && c <= 0x7a) || // a-z
        (c >= 0x30 && c <= 0x39) || // 0-9
        c === 0x2d || // -
        c === 0x5f // _ (SRV-style labels; real resolvers answer for them)
    );
}

function hasNonAscii(text: string): boolean {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return true;
    return false;
}

/** The reason `name` (already lower case ASCII, no trailing dot) is not a DNS name, or null when it is one. */
export function nameProblem(name: string, allowStar: boolean): string | null {
    if (name.length === 0) return 'it is empty';
    if (name.length > MAX_NAME_LENGTH) return `it is longer than ${MAX_NAME_LENGTH} characters`;
    let labelStart = 0;
    for (let i = 0; i <= name.length; i++) {
        const c = i < name.length ? name.charCodeAt(i) : 0x2e;
        if (c === 0x2e) {
            const len = i - labelStart;
            if (len === 0) return 'it has an empty label (two dots in a row, or a leading dot)';
            if (len > MAX_LABEL_LENGTH) return `a label is longer than ${MAX_LABEL_LENGTH} characters`;
            labelStart = i + 1;
        } else if (!isLabelChar(c) && !(allowStar && c === 0x2a)) {
            return `'${String.fromCharCode(c)}' cannot appear in a host name`;
        }
    }
    return null;
}

/**
 * A-Z to a-z and nothing else. Never String#toLowerCase for names: it lowers by context (a final 'Σ'
 * becomes 'ς', where UTS #46 and the native layer make every 'Σ' a 'σ') and by locale-free rules that are
 * not IDNA's; non-ASCII is mapped by the UTS #46 table both engines share (idna.ts).
 */
export function asciiLower(text: string): string {
    return /[A-Z]/.test(text) ? text.replace(/[A-Z]+/g, (m) => m.toLowerCase()) : text;
}

/**
 * docs/rules.md, Unicode names: a label that starts with "xn--" must be the punycode of a label in normal
 * form. It decodes, holds a non-ASCII code point, and encodes back to itself. Node's own check lets
 * "xn--abc-" (which decodes to plain "abc") through; both engines refuse it.
 */
function punycodeLabelOk(label: string): boolean {
    const unicode = domainToUnicode(label);
    return unicode !== '' && hasNonAscii(unicode) && !unicode.includes('.') && decodedLabelOk(unicode) && domainToASCII(unicode) === label;
}

/**
 * Lower-cases, converts Unicode to punycode, and removes one trailing dot. Returns the ASCII name, or null
 * when IDNA rejects the name. Does not validate the ASCII result: see `nameProblem`.
 */
export function toAsciiName(input: string): string | null {
    let name = asciiLower(input);
    if (hasNonAscii(name)) {
        // domainToASCII is the WHATWG host parser: it also percent-decodes and cuts at '/', so only hand it
        // text whose ASCII part is already name-shaped.
        for (let i = 0; i < name.length; i++) {
            const c = name.charCodeAt(i);
            if (c <= 0x7f && c !== 0x2e && c !== 0x2a && !isLabelChar(c)) return null;
        }
        // Mapped by the shared table first (idna.ts), not by the running Node's own Unicode data: one
        // normal form under every Node version. The table maps the dots UTS #46 makes '.' ('。', '．', '｡').
        // What is left for domainToASCII is code points that map to themselves (it encodes them) and
        // contextual ones (it judges them by their neighbours).
        const mapped = mapByTable(name);
        if (mapped === null) return null;
        name = mapped;
        const ascii = hasNonAscii(name) ? domainToASCII(name) : name;
        // '＊' (and its kin) map to '*': only an ASCII '*' is a wildcard (the native table refuses them too)
        if (ascii === '' || ascii.split('*').length !== name.split('*').length) return null;
        name = ascii;
    }
    if (name.endsWith('.')) name = name.slice(0, -1);
    if (name.includes('xn--')) {
        for (const label of name.split('.')) if (label.startsWith('xn--') && !punycodeLabelOk(label)) return null;
    }
    return name;
}

export { hasNonAscii };
