/**
 * Options objects are checked for keys nobody reads: a misspelt `logonly` or `alow` would otherwise leave
 * the caller with a policy other than the one they wrote (everything blocked, or enforcing where they
 * asked for log-only), silently.
 */

function distance(a: string, b: string): number {
    const row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        let diagonal = row[0] ?? 0;
        row[0] = i;
        for (let j = 1; j <= b.length; j++) {
            const above = row[j] ?? 0;
            row[j] = Math.min(above + 1, (row[j - 1] ?? 0) + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
            diagonal = above;
        }
    }
    return row[b.length] ?? 0;
}

/** The known key closest to `key` (case ignored), if it is close enough to be a slip. */
export function didYouMean(key: string, known: readonly string[]): string | null {
    let best: string | null = null;
    let bestDistance = Infinity;
    for (const k of known) {
        const d = distance(key.toLowerCase(), k.toLowerCase());
        if (d < bestDistance) {
            best = k;
            bestDistance = d;
        }
    }
    return best !== null && bestDistance <= Math.max(2, Math.floor(key.length / 4)) ? best : null;
}

/** Throws a TypeError naming the first own key of `options` not in `known`, with a did-you-mean. */
export function checkKnownKeys(what: string, options: object, known: readonly string[]): void {
    // for…in, not Object.keys: no array made on every call (scope() checks its options each time)
    for (const key in options) {
        if (!Object.prototype.hasOwnProperty.call(options, key) || known.includes(key)) continue;
        const guess = didYouMean(key, known);
        throw new TypeError(`${what}: unknown option '${key}'${guess ? ` — did you mean '${guess}'?` : ''} (known: ${known.join(', ')})`);
    }
}
