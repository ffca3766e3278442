#!/usr/bin/env node
// The native IDNA table (docs/rules.md, Unicode names): which code points libtethered.so maps, and to
// what, derived from Node's own UTS #46 implementation (url.domainToASCII), so that the two engines lower
// and map names the same way. Run it after a Node upgrade brings new Unicode data:
//
//   node scripts/idna-table.mjs            rewrites native/shim/idna_table.h and src/policy/idna-table.ts
//   node scripts/idna-table.mjs --check    exits 1 when the committed tables differ from what this Node gives
//
// Both engines map by these tables, not by the running Node's own IDNA code: the normal form of a name is
// the same under every Node version (a newer one may map a few code points otherwise: U+1E9E 'ẞ' is 'ss'
// here and 'ß' in Node 24's UTS #46). --check therefore passes only on the Node version named in the tables.
//
// A code point is in the native subset when its mapping is context-free: the same whatever surrounds it
// (no bidi rule, no joiner rule, no combining mark at the start of a label) and left alone by NFC next to
// any other code point of the subset. Every other code point is `contextual`: the native layer does not
// judge it, and a name holding one is no DNS name there (it errs towards blocking). The differential test
// imports `classify` to tell which inputs both engines must agree on.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { domainToASCII, domainToUnicode } from 'node:url';
import { fileURLToPath } from 'node:url';

const OUT = join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'shim', 'idna_table.h');
const OUT_TS = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'policy', 'idna-table.ts');
const MAX_CP = 0x10ffff;

// Code points that occur, other than first, in a canonical decomposition: NFC may compose them with what
// comes before. Hangul vowels and trailing consonants are among them (every syllable decomposes).
function composingSeconds() {
    const seconds = new Set();
    for (let cp = 0x80; cp <= MAX_CP; cp++) {
        if (cp >= 0xd800 && cp <= 0xdfff) continue;
        const d = [...String.fromCodePoint(cp).normalize('NFD')];
        for (let i = 1; i < d.length; i++) seconds.add(d[i].codePointAt(0));
    }
    return seconds;
}

let seconds = null;

/** Canonical combining class is not 0: canonical reordering moves it past a mark of another class. (A
 * precomposed letter is a starter: its own marks are what would move.) */
function combines(ch) {
    if (ch.normalize('NFD') !== ch) return false;
    return ('\u0301' + ch).normalize('NFD') !== '\u0301' + ch.normalize('NFD') || (ch + '\u0334').normalize('NFD') !== ch.normalize('NFD') + '\u0334';
}

/** Neither composes with what precedes it nor reorders: NFC leaves it alone next to any other such code point. */
function inert(cp) {
    seconds ??= composingSeconds();
    const ch = String.fromCodePoint(cp);
    return cp < 0x80 || (ch.normalize('NFC') === ch && !seconds.has(cp) && !combines(ch) && !/\p{M}/u.test(ch));
}

const ASCII_OK = /^[a-z0-9_.-]$/;

/**
 * What UTS #46 (as Node implements it) does with `cp` in any context of the subset:
 *  { kind: 'valid' } | { kind: 'ignored' } | { kind: 'mapped', to: number[] } | { kind: 'disallowed' } | { kind: 'contextual' }
 * ASCII is not classified here (the engines lower A-Z and check label characters themselves).
 */
export function classify(cp) {
    if (cp < 0x80) return { kind: 'ascii' };
    if (cp >= 0xd800 && cp <= 0xdfff) return { kind: 'disallowed' };
    const ch = String.fromCodePoint(cp);
    const ltr = domainToASCII(`a${ch}a`);
    // removed before anything else looks at the label (variation selectors, soft hyphen, ...)
    if (ltr === 'aa' && cp !== 0x200c && cp !== 0x200d) return { kind: 'ignored' };
    if (cp === 0x200c || cp === 0x200d || /\p{M}/u.test(ch)) return { kind: 'contextual' };
    if (ltr === '') {
        // refused between Latin letters: never valid (disallowed), or only in a right-to-left label
        const rtl = domainToASCII(`\u05d0${ch}\u05d0`) !== '' || domainToASCII(ch) !== '';
        return { kind: rtl ? 'contextual' : 'disallowed' };
    }
    // Also refused in a right-to-left label? Then the mapping is not context-free either (e.g. European digits).
    const mapped = domainToUnicode(ltr);
    if (!mapped.startsWith('a') || !mapped.endsWith('a')) return { kind: 'contextual' };
    const to = [...mapped.slice(1, -1)].map((c) => c.codePointAt(0));
    for (const c of to) {
        if (c < 0x80 ? !ASCII_OK.test(String.fromCharCode(c)) : false) return { kind: 'disallowed' };
    }
    const text = String.fromCodePoint(...to);
    if (text.normalize('NFC') !== text || (to.length > 0 && !inert(to[0]))) return { kind: 'contextual' };
    for (const c of to) {
        if (c >= 0x80 && !inert(c) && !/\p{M}/u.test(String.fromCodePoint(c))) return { kind: 'contextual' };
    }
    if (to.length === 0) return { kind: 'ignored' };
    if (to.length === 1 && to[0] === cp) return inert(cp) ? { kind: 'valid' } : { kind: 'contextual' };
    return { kind: 'mapped', to };
}

function buildTable() {
    // valid: ranges; mapped: (from, offset into the pool, length); ignored: ranges; disallowed: everything else
    // not contextual; contextual: ranges (so that a decoded xn-- label can tell "unknown" from "refused").
    const ranges = { valid: [], ignored: [], contextual: [] };
    const mapped = [];
    const pool = [];
    const poolIndex = new Map();
    const extend = (list, cp) => {
        const last = list[list.length - 1];
        if (last && last[1] === cp - 1) last[1] = cp;
        else list.push([cp, cp]);
    };
    for (let cp = 0x80; cp <= MAX_CP; cp++) {
        const c = classify(cp);
        if (c.kind === 'valid' || c.kind === 'ignored' || c.kind === 'contextual') extend(ranges[c.kind], cp);
        else if (c.kind === 'mapped') {
            const key = c.to.join(',');
            let at = poolIndex.get(key);
            if (at === undefined) {
                at = pool.length;
                pool.push(...c.to);
                poolIndex.set(key, at);
            }
            mapped.push([cp, at, c.to.length]);
        }
    }
    return { ranges, mapped, pool };
}

function hex(n) {
    return `0x${n.toString(16)}`;
}

function rows(items, perLine) {
    const out = [];
    for (let i = 0; i < items.length; i += perLine) out.push(`    ${items.slice(i, i + perLine).join(', ')},`);
    return out.join('\n');
}

let built = null;

/** The same table for the TypeScript engine (src/policy/idna.ts reads it): flat arrays of numbers. */
export function renderTs() {
    built ??= buildTable();
    const { ranges, mapped, pool } = built;
    const flat = (list) => rows(list.flat().map(String), 16);
    return `// GENERATED by scripts/idna-table.mjs from Node ${process.versions.node} (Unicode ${process.versions.unicode}); do not edit.
// The UTS #46 mapping of the code points whose mapping is context-free, as native/shim/idna_table.h has it.
// prettier-ignore
export const SOURCE = 'Node ${process.versions.node}';
/** [first, last, first, last, ...]: code points that map to themselves. */
// prettier-ignore
export const VALID: readonly number[] = [
${flat(ranges.valid)}
];
/** Code points that map to nothing. */
// prettier-ignore
export const IGNORED: readonly number[] = [
${flat(ranges.ignored)}
];
/** Code points whose mapping or validity depends on their neighbours. */
// prettier-ignore
export const CONTEXTUAL: readonly number[] = [
${flat(ranges.contextual)}
];
/** [from, at, length, ...]: code points that map to POOL[at .. at + length). */
// prettier-ignore
export const MAPPED: readonly number[] = [
${flat(mapped)}
];
// prettier-ignore
export const POOL: readonly number[] = [
${rows(pool.map(String), 16)}
];
`;
}

export function render() {
    built ??= buildTable();
    const { ranges, mapped, pool } = built;
    const rangeRows = (list) => rows(list.map(([a, b]) => `{${hex(a)}, ${hex(b)}}`), 6);
    return `/* GENERATED by scripts/idna-table.mjs from Node ${process.versions.node} (Unicode ${process.versions.unicode}); do not edit.
 * The UTS #46 mapping of the code points whose mapping is context-free (see idna.c and docs/rules.md). */
#ifndef TETHERED_IDNA_TABLE_H
#define TETHERED_IDNA_TABLE_H

#include <stdint.h>

/* clang-format off */
struct td_cp_range {
    uint32_t first, last;
};

struct td_cp_map {
    uint32_t from;
    uint16_t at, len; /* td_idna_pool[at .. at + len) */
};

/* Code points that map to themselves. */
static const struct td_cp_range td_idna_valid[] = {
${rangeRows(ranges.valid)}
};

/* Code points that map to nothing. */
static const struct td_cp_range td_idna_ignored[] = {
${rangeRows(ranges.ignored)}
};

/* Code points whose mapping or validity depends on their neighbours: not judged here. */
static const struct td_cp_range td_idna_contextual[] = {
${rangeRows(ranges.contextual)}
};

/* Code points that map to others. */
static const struct td_cp_map td_idna_mapped[] = {
${rows(mapped.map(([cp, at, len]) => `{${hex(cp)}, ${at}, ${len}}`), 5)}
};

static const uint32_t td_idna_pool[] = {
${rows(pool.map(hex), 10)}
};
/* clang-format on */

#endif
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const outputs = [
        [OUT, render()],
        [OUT_TS, renderTs()],
    ];
    if (process.argv.includes('--check')) {
        // The tables are the Unicode data of the Node that made them: another Node would give others.
        const source = /from Node (\S+) /.exec(readFileSync(OUT, 'utf8'))?.[1];
        if (process.argv.includes('--if-same-node') && source !== process.versions.node) {
            console.log(`idna-table: the tables come from Node ${source}, this is Node ${process.versions.node}: not compared`);
            process.exit(0);
        }
        let same = true;
        for (const [file, text] of outputs) {
            if (readFileSync(file, 'utf8') === text) continue;
            same = false;
            console.error(`${file} differs from what Node ${process.versions.node} gives: run node scripts/idna-table.mjs on the Node version it names, or on a new one to move both engines to its Unicode data`);
        }
        process.exit(same ? 0 : 1);
    }
    for (const [file, text] of outputs) {
        writeFileSync(file, text);
        console.log(`wrote ${file}`);
    }
}
