// `tethered learn` as a lockfile: it keeps the rules it starts from, adds what the run needed, reports the
// starting rules nothing used, and suggests (applies only when asked) wildcards and /24s for siblings.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { applyCollapses, collapseSuggestions } from '../../dist/cli/collapse.js';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { netprobe, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tethered-learn-'));
const tethered = (...args) => runUnderShim(process.execPath, [cli, ...args], { TETHERED_LOG: undefined }, { preload: false });

describe('collapse suggestions', () => {
    test('siblings with the same port become one wildcard or /24; a suggestion check calls over-broad is never made', () => {
        const rules = ['a.x.example.test:443', 'b.x.example.test:443', 'c.x.example.test:80', '10.0.0.1:80', '10.0.0.7:80', 'a.test:443', 'b.test:443', '10.0.1.1:80'];
        const suggestions = collapseSuggestions(rules);
        assert.deepEqual(suggestions, [
            { rule: '*.x.example.test:443', replaces: ['a.x.example.test:443', 'b.x.example.test:443'] },
            { rule: '10.0.0.0/24:80', replaces: ['10.0.0.1:80', '10.0.0.7:80'] },
        ]);
        assert.deepEqual(applyCollapses(rules, suggestions), ['*.x.example.test:443', 'c.x.example.test:80', '10.0.0.0/24:80', 'a.test:443', 'b.test:443', '10.0.1.1:80']);
        assert.deepEqual(collapseSuggestions(['a.x.example.test', 'b.x.example.test:443']), [], 'different ports are not siblings');
    });
});

describe('tethered learn over an existing policy', { skip: NEEDS_NETNS }, () => {
    const s = serve({ known: () => tcpServer('127.0.0.2'), fresh: () => tcpServer('127.0.0.4') });

    test('--policy p.json --out p.json keeps the old rules, adds the new ones after them, and reports the unused', async () => {
        const p = join(dir, 'p.json');
        const known = `127.0.0.2:${s.known.port}`;
        writeFileSync(p, JSON.stringify({ allow: ['old.example.test:443', known], deny: ['bad.example.test'], allowLocalhost: false }));
        const script = `${netprobe()} connect-ip 127.0.0.2 ${s.known.port} >/dev/null && ${netprobe()} connect-ip 127.0.0.4 ${s.fresh.port} >/dev/null && { ${netprobe()} gai new.example.test >/dev/null; true; }`;
        const r = await tethered('learn', '--policy', p, '--out', p, '--', 'sh', '-c', script);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /tethered learn: 1 rule nothing used in this run: old\.example\.test:443\n/);
        assert.match(r.stderr, /3 attempts seen, 2 new rules, 4 in all; written to /);
        assert.deepEqual(JSON.parse(readFileSync(p, 'utf8')), {
            allow: ['old.example.test:443', known, 'new.example.test', `127.0.0.4:${s.fresh.port}`],
            deny: ['bad.example.test'],
            allowLocalhost: false,
        });
        // The merged file lets the whole command pass with nothing blocked.
        const replay = await tethered('run', '--policy', p, '--fail-on-block', '--', 'sh', '-c', script);
        assert.equal(replay.code, 0, replay.stderr);
        const again = await tethered('learn', '--policy', p, '--out', p, '--', 'sh', '-c', script);
        assert.match(again.stderr, /0 new rules, 4 in all/, 'a second run changes nothing');
    });

    test('--collapse prints a wildcard suggestion for sibling names; only --collapse-apply writes it', async () => {
        const script = `${netprobe()} gai a.sib.example.test >/dev/null; ${netprobe()} gai b.sib.example.test >/dev/null; true`;
        const suggested = await tethered('learn', '--no-config', '--collapse', '--', 'sh', '-c', script);
        assert.deepEqual(suggested.stdout.split('\n'), ['a.sib.example.test', 'b.sib.example.test']);
        assert.match(suggested.stderr, /suggestion: '\*\.sib\.example\.test' for 'a\.sib\.example\.test', 'b\.sib\.example\.test'/);
        const applied = await tethered('learn', '--no-config', '--collapse-apply', '--', 'sh', '-c', script);
        assert.deepEqual(applied.stdout.split('\n'), ['*.sib.example.test']);
    });
});
