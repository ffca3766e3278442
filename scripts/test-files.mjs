// The suite's test files: scripts/test.mjs runs them, scripts/other-node.mjs picks from them.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Test files named (files or folders, relative to the root), or every *.test.mjs under test/. */
export function testFiles(paths = []) {
    const found = [];
    const walk = (p) => {
        if (statSync(p).isDirectory()) {
            for (const entry of readdirSync(p).sort()) walk(join(p, entry));
        } else if (/\.test\.(m|c)?js$/.test(p)) {
            found.push(relative(root, p));
        }
    };
    for (const p of paths.length ? paths : [join(root, 'test')]) walk(resolve(p));
    return found;
}
