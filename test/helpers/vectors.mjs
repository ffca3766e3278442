// Loads test/vectors/policy.json: the decision vectors every matcher (TypeScript and C) is held to.
import { readFileSync } from 'node:fs';

export const vectors = JSON.parse(readFileSync(new URL('../vectors/policy.json', import.meta.url), 'utf8'));

/** A short, unique-enough title for one case. */
export function caseTitle(c) {
    const port = c.port === null ? 'lookup' : `:${c.port}`;
    const dest = c.host !== undefined ? JSON.stringify(c.host) : `${c.ip} via [${c.names.join(', ')}]`;
    return `${dest} ${port} → ${c.allowed ? 'allowed' : 'blocked'}${c.reason ? ` (${c.reason})` : ''}`;
}
