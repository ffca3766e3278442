// The oldest C and C++ runtimes the shipped binaries load on: glibc 2.28 (RHEL 8, Debian 10) and the
// libstdc++ of GCC 8 (GLIBCXX_3.4.25, CXXABI_1.3.11). Reads the symbol versions a binary needs with
// readelf (which reads any architecture's ELF, unlike a host objdump) and lists those above the baseline.
//   node scripts/glibc-baseline.mjs FILE…     prints each file's highest versions; exit 1 above the baseline
// Used by test/native/glibc-baseline.test.mjs, the arm64 tests and scripts/pack-check.mjs.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const BASELINE = { GLIBC: '2.28', GLIBCXX: '3.4.25', CXXABI: '1.3.11' };

function compare(a, b) {
    const x = a.split('.').map(Number);
    const y = b.split('.').map(Number);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
        if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    }
    return 0;
}

/** Every versioned dynamic symbol of `file`: [{ symbol, family, version }] (family GLIBC, GLIBCXX, CXXABI, GCC …). */
export function symbolVersions(file) {
    const out = execFileSync('readelf', ['--dyn-syms', '--wide', file], { encoding: 'utf8' });
    const found = [];
    for (const m of out.matchAll(/\s(\S+?)@@?([A-Z]+)_([\d.]+)(?:\s|$)/g)) found.push({ symbol: m[1], family: m[2], version: m[3] });
    return found;
}

/** The shared libraries `file` needs, and whether it asks for a program interpreter (a dynamic executable). */
export function dynamicNeeds(file) {
    const dynamic = execFileSync('readelf', ['--dynamic', '--program-headers', '--wide', file], { encoding: 'utf8' });
    return {
        needed: [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[(.+?)\]/g)].map((m) => m[1]),
        interpreter: /\bINTERP\b/.test(dynamic),
    };
}

/** The highest version per family, e.g. { GLIBC: '2.27', GLIBCXX: '3.4.21' }. */
export function highest(versions) {
    const top = {};
    for (const { family, version } of versions) if (!top[family] || compare(version, top[family]) > 0) top[family] = version;
    return top;
}

/** The symbols of `file` whose version is above the baseline, as "name@FAMILY_x.y" strings. */
export function aboveBaseline(file) {
    return symbolVersions(file)
        .filter(({ family, version }) => BASELINE[family] && compare(version, BASELINE[family]) > 0)
        .map(({ symbol, family, version }) => `${symbol}@${family}_${version}`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    let bad = 0;
    for (const file of process.argv.slice(2)) {
        const above = aboveBaseline(file);
        const top = Object.entries(highest(symbolVersions(file))).map(([f, v]) => `${f}_${v}`);
        console.log(`${file}: ${top.join(' ') || 'no versioned symbols'}${above.length ? `; ABOVE the baseline: ${above.join(' ')}` : ''}`);
        if (above.length) bad++;
    }
    process.exitCode = bad ? 1 : 0;
}
