/**
 * A misspelt TETHERED_* variable is a policy silently not applied (TETHERED_ALOW leaves the allow list
 * empty, TETHERED_MDOE leaves enforce mode on): the CLI names every unknown one and the nearest known name.
 */
import { ENV_PREFIX, KNOWN_VARIABLES } from '../env-names.js';

export { KNOWN_VARIABLES };

function distance(a: string, b: string): number {
    let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const row = [i];
        for (let j = 1; j <= b.length; j++) {
            row.push(Math.min((previous[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)));
        }
        previous = row;
    }
    return previous[b.length] ?? 0;
}

/** One warning per unknown TETHERED_* variable, with a did-you-mean when a known name is close. */
export function unknownVariables(env: NodeJS.ProcessEnv): string[] {
    const known = new Set<string>(KNOWN_VARIABLES);
    const warnings: string[] = [];
    for (const name of Object.keys(env).sort()) {
        if (!name.toUpperCase().startsWith(ENV_PREFIX) || known.has(name)) continue;
        const [best] = KNOWN_VARIABLES.map((k) => [k, distance(name.toUpperCase(), k)] as const).sort((x, y) => x[1] - y[1]);
        const hint = best && best[1] <= 3 ? ` (did you mean ${best[0]}?)` : ` (known: ${KNOWN_VARIABLES.slice(0, 10).join(', ')})`;
        warnings.push(`warning: ${name} is not a variable tethered reads; it has no effect${hint}`);
    }
    return warnings;
}
