// The README's "What it catches" table against the suite, so that neither can drift: every row of the
// bypass list is in the table once; a row the table says is caught names test files that exist and hold
// tests for that row in all three modes (blocked, reported in log-only mode, allowed); a row it says is
// not caught is explained under "What it does not catch".
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { root } from './helpers/cbuild.mjs';

// The rows of BYPASSES.md (the project's shared list of egress paths).
const ROWS = [
    ...Array.from({ length: 11 }, (_, i) => `J${i + 1}`),
    'T1', 'T2', 'T3',
    ...Array.from({ length: 8 }, (_, i) => `N${i + 1}`),
    'C1', 'C2', 'C3',
    ...Array.from({ length: 7 }, (_, i) => `L${i + 1}`),
    'S1', 'S2', 'S3', 'S4',
];

const readme = readFileSync(join(root, 'README.md'), 'utf8');

function section(title) {
    const start = readme.indexOf(`## ${title}`);
    assert.ok(start >= 0, `README has a "${title}" section`);
    const end = readme.indexOf('\n## ', start + 1);
    return readme.slice(start, end < 0 ? undefined : end);
}

function tableRows(text) {
    return text
        .split('\n')
        .filter((l) => /^\| [A-Z]\d+ \|/.test(l))
        .map((l) => l.split(' | ').map((c) => c.replace(/^\| |\s*\|$/g, '').trim()));
}

const rows = tableRows(section('What it catches'));
const notCaught = section('What it does not catch');

// Where a test for `row` in `mode` is written: a test title; a scenario table entry whose test title
// template names the mode; or a title template for the row over a table of cases, one naming the mode.
function covers(source, row, mode) {
    const titled = new RegExp(`test\\(\\s*[\`'"][^\`'"]*\\b${row}\\b[^\`'"]*${mode}`, 'i');
    if (titled.test(source)) return true;
    const entry = new RegExp(`\\[\\s*'${row}'\\s*,`);
    const template = new RegExp(`test\\(\\s*\`\\$\\{row\\}[^\`]*${mode}`, 'i');
    if (entry.test(source) && template.test(source)) return true;
    // a title template for the row filled from a table of cases, one of which names the mode
    const rowTemplate = new RegExp(`test\\(\\s*\`[^\`]*\\b${row}\\b[^\`]*\\$\\{`);
    const caseNamed = new RegExp(`\\[\\s*'[^']*${mode}`, 'i');
    return rowTemplate.test(source) && caseNamed.test(source);
}

const MODES = { blocked: 'block', 'log-only': '(log|reported)', allowed: '(allow|works|round-trips)' };
// io_uring is refused outright in strict mode (programs fall back to plain calls, which are judged): there is
// no log-only or allowed io_uring connect to test
const ONLY = { S3: ['blocked'] };

describe('the README coverage table', () => {
    test('lists every row of the bypass list exactly once', () => {
        assert.deepEqual(rows.map((r) => r[0]).sort(), [...ROWS].sort());
    });

    for (const row of ROWS) {
        test(`${row}: what the table says is what the suite tests`, () => {
            const cells = rows.find((r) => r[0] === row);
            assert.ok(cells, `${row} is in the table`);
            const [, path, enforce, , , tests] = cells;
            if (/not caught/.test(enforce)) {
                // named (by its path) in "What it does not catch", with the reason and what catches it
                const key = path.replace(/`/g, '').split(/[ (/,]/).filter((w) => w.length > 4)[0];
                assert.ok(key && notCaught.toLowerCase().includes(key.toLowerCase()), `${row} (${path}) is explained under "What it does not catch"`);
                return;
            }
            const files = [...tests.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
            assert.ok(files.length > 0, `${row} names its tests`);
            const sources = files.map((f) => {
                assert.ok(existsSync(join(root, f)), `${f} exists`);
                return readFileSync(join(root, f), 'utf8');
            });
            for (const [mode, words] of Object.entries(MODES).filter(([m]) => !ONLY[row] || ONLY[row].includes(m))) {
                assert.ok(
                    sources.some((source) => covers(source, row, words)),
                    `${row} has a ${mode} test in ${files.join(', ')}`,
                );
            }
        });
    }
});
