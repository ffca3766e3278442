/**
 * The UTS #46 mapping both engines use (docs/rules.md, Unicode names): the table scripts/idna-table.mjs
 * generates into native/shim/idna_table.h and idna-table.ts alike. The TypeScript engine maps non-ASCII
 * code points by it before the running Node's domainToASCII sees the name, so that a Node version with
 * other Unicode data (Node 24 maps 'ẞ' to 'ß', Node 20 to 'ss') still gives the native layer's normal form.
 */
import { CONTEXTUAL, IGNORED, MAPPED, POOL, VALID } from './idna-table.js';

/** What the table says of a non-ASCII code point. */
export type IdnaClass = 'valid' | 'ignored' | 'contextual' | 'disallowed' | readonly number[];

/** An element of a table (the searches below stay inside them). */
function at(table: readonly number[], i: number): number {
    return table[i] ?? -1;
}

/** Is `cp` inside one of the [first, last] pairs of `ranges` (sorted)? */
function inRanges(ranges: readonly number[], cp: number): boolean {
    let lo = 0;
    let hi = ranges.length / 2 - 1;
    while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (cp < at(ranges, 2 * mid)) hi = mid - 1;
        else if (cp > at(ranges, 2 * mid + 1)) lo = mid + 1;
        else return true;
    }
    return false;
}

function mappedTo(cp: number): readonly number[] | null {
    let lo = 0;
    let hi = MAPPED.length / 3 - 1;
    while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const from = at(MAPPED, 3 * mid);
        if (cp < from) hi = mid - 1;
        else if (cp > from) lo = mid + 1;
        else return POOL.slice(at(MAPPED, 3 * mid + 1), at(MAPPED, 3 * mid + 1) + at(MAPPED, 3 * mid + 2));
    }
    return null;
}

/** The table's class of a code point of 0x80 or above: valid, ignored, contextual, disallowed, or what it maps to. */
export function idnaClass(cp: number): IdnaClass {
    if (inRanges(VALID, cp)) return 'valid';
    const to = mappedTo(cp);
    if (to) return to;
    if (inRanges(IGNORED, cp)) return 'ignored';
    if (inRanges(CONTEXTUAL, cp)) return 'contextual';
    return 'disallowed';
}

/**
 * `text` with every non-ASCII code point mapped by the table (contextual ones left for domainToASCII, which
 * judges them by their neighbours; the native layer refuses them), or null when one is disallowed.
 */
export function mapByTable(text: string): string | null {
    let out = '';
    for (const ch of text) {
        const cp = ch.codePointAt(0) ?? 0;
        if (cp < 0x80) {
            out += ch;
            continue;
        }
        const c = idnaClass(cp);
        if (c === 'disallowed') return null;
        if (c === 'valid' || c === 'contextual') out += ch;
        else if (c !== 'ignored') out += String.fromCodePoint(...c);
    }
    return out;
}

/** Is every non-ASCII code point of a decoded xn-- label one the table keeps as it is (or leaves to context)? */
export function decodedLabelOk(text: string): boolean {
    for (const ch of text) {
        const cp = ch.codePointAt(0) ?? 0;
        if (cp < 0x80) continue;
        const c = idnaClass(cp);
        if (c !== 'valid' && c !== 'contextual') return false;
    }
    return true;
}
