// `tethered run` in CI: --fail-on-block for a block the program swallowed, the end-of-run summary, the
// readable and JSON event lines, and the github, json and junit reports, all from real runs of netprobe
// and curl in the namespace against loopback peers (--no-localhost makes loopback need a rule).
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { httpServer, netprobe, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tethered-report-'));
const tethered = (args, env = {}) => runUnderShim(process.execPath, [cli, ...args], { TETHERED_LOG: undefined, GITHUB_STEP_SUMMARY: undefined, ...env }, { preload: false });

describe('tethered run reports for CI', { skip: NEEDS_NETNS }, () => {
    const s = serve({ allowed: () => tcpServer('127.0.0.2'), blocked: () => tcpServer('127.0.0.4'), web: () => httpServer('127.0.0.5') });
    const allow = () => ['--no-localhost', '--allow', `127.0.0.2:${s.allowed.port}`];
    // The program swallows the blocked connect (|| true) and exits 0 on its own.
    const swallowing = () => `${netprobe()} connect-ip 127.0.0.2 ${s.allowed.port}; ${netprobe()} connect-ip 127.0.0.4 ${s.blocked.port} || true; exit 0`;

    test('--fail-on-block exits 3 for a block the program swallowed, and names the destination', async () => {
        const before = s.blocked.connections;
        const r = await tethered(['run', ...allow(), '--fail-on-block', '--', 'sh', '-c', swallowing()]);
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, new RegExp(`--fail-on-block: 1 destination was blocked: 127\\.0\\.0\\.4:${s.blocked.port}`));
        assert.equal(s.blocked.connections, before, 'the blocked peer never saw a connection');
        assert.match(r.stdout, /error EACCES/);
        // Control: without the flag the swallowed block leaves the status 0.
        assert.equal((await tethered(['run', ...allow(), '--', 'sh', '-c', swallowing()])).code, 0);
    });

    test('--fail-on-block passes when nothing was blocked, and keeps a failing command its own status', async () => {
        const before = s.allowed.connections;
        const ok = await tethered(['run', ...allow(), '--fail-on-block', '--', netprobe(), 'connect-ip', '127.0.0.2', String(s.allowed.port)]);
        assert.equal(ok.code, 0, ok.stderr);
        assert.equal(s.allowed.connections, before + 1, 'the allowed connect reached its peer');
        assert.doesNotMatch(ok.stderr, /fail-on-block/);
        const failing = await tethered(['run', ...allow(), '--fail-on-block', '--', 'sh', '-c', `${netprobe()} connect-ip 127.0.0.4 ${s.blocked.port}; exit 5`]);
        assert.equal(failing.code, 5);
        assert.match(failing.stderr, /--fail-on-block: 1 destination was blocked/);
    });

    test('a block in a grandchild process counts, and --log-only would-blocks count too', async () => {
        const nested = `sh -c '${netprobe()} connect-ip 127.0.0.4 ${s.blocked.port}' || true`;
        const r = await tethered(['run', ...allow(), '--fail-on-block', '--', 'sh', '-c', nested]);
        assert.equal(r.code, 3, r.stderr);
        const before = s.blocked.connections;
        const logOnly = await tethered(['run', ...allow(), '--log-only', '--fail-on-block', '--', netprobe(), 'connect-ip', '127.0.0.4', String(s.blocked.port)]);
        assert.equal(logOnly.code, 3, logOnly.stderr);
        assert.match(logOnly.stdout, /^ok/, 'log-only let it through');
        assert.equal(s.blocked.connections, before + 1);
        assert.match(logOnly.stderr, /would-block: 127\.0\.0\.4/);
    });

    test('the summary counts attempts per destination, blocked and allowed, with the rule that would allow each', async () => {
        const p = netprobe();
        const script = `${p} connect-ip 127.0.0.4 ${s.blocked.port}; ${p} connect-ip 127.0.0.4 ${s.blocked.port}; ${p} connect-ip 127.0.0.2 ${s.allowed.port}; ${p} gai evil.example.test; exit 0`;
        const r = await tethered(['run', ...allow(), '--summary', 'always', '--', 'sh', '-c', script]);
        assert.equal(r.code, 0);
        assert.match(r.stderr, /tethered: 4 network attempts to 3 destinations; 3 blocked at 2 destinations/);
        assert.match(r.stderr, new RegExp(`BLOCKED  127\\.0\\.0\\.4:${s.blocked.port} \\(tcp\\) +2 blocked  allow with '127\\.0\\.0\\.4:${s.blocked.port}'`));
        assert.match(r.stderr, /BLOCKED {2}evil\.example\.test \(dns\) +1 blocked {2}allow with 'evil\.example\.test'/);
        assert.match(r.stderr, new RegExp(`allowed  127\\.0\\.0\\.2:${s.allowed.port} \\(tcp\\) +1 allowed`));
        // By default the summary appears only when something was blocked.
        const quiet = await tethered(['run', ...allow(), '--', p, 'connect-ip', '127.0.0.2', String(s.allowed.port)]);
        assert.equal(quiet.stderr, '');
    });

    test('events: readable lines on stderr by default, JSON lines with --log stderr or --log FILE, none with --log off', async () => {
        const cmd = ['--', netprobe(), 'connect-ip', '127.0.0.4', String(s.blocked.port)];
        const readable = await tethered(['run', ...allow(), '--summary', 'never', ...cmd]);
        assert.equal(readable.stderr, `tethered: blocked tcp 127.0.0.4:${s.blocked.port} by ${netprobe()} [pid ${readable.stderr.match(/pid (\d+)/)?.[1]}]: allow it with '127.0.0.4:${s.blocked.port}'\n`);
        const json = await tethered(['run', ...allow(), '--summary', 'never', '--log', 'stderr', ...cmd]);
        const event = JSON.parse(json.stderr.trim());
        assert.equal(event.decision, 'block');
        assert.equal(event.port, s.blocked.port);
        const file = join(dir, 'events.jsonl');
        writeFileSync(file, '');
        const toFile = await tethered(['run', ...allow(), '--summary', 'never', '--log', file, ...cmd]);
        assert.equal(toFile.stderr, '');
        assert.deepEqual(readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l).ip), ['127.0.0.4']);
        const off = await tethered(['run', ...allow(), '--summary', 'never', '--log', 'off', ...cmd]);
        assert.equal(off.stderr, '');
    });

    test('--report github writes ::error lines naming destination, process and rule, and a job-summary table', async () => {
        const summary = join(dir, 'step-summary.md');
        writeFileSync(summary, '# earlier step\n');
        const script = `curl -sS --max-time 5 http://127.0.0.5:${s.web.port}/ || true; ${netprobe()} connect-ip 127.0.0.2 ${s.allowed.port}`;
        const requestsBefore = s.web.requests;
        const r = await tethered(['run', ...allow(), '--report', 'github', '--', 'sh', '-c', script], { GITHUB_STEP_SUMMARY: summary });
        assert.equal(r.code, 0, r.stderr);
        assert.equal(s.web.requests, requestsBefore, 'curl never reached the blocked web server');
        const commands = r.stdout.split('\n').filter((l) => l.startsWith('::'));
        assert.equal(commands.length, 1, r.stdout);
        assert.match(commands[0], new RegExp(`^::error title=tethered%3A blocked 127\\.0\\.0\\.5%3A${s.web.port}::tcp 127\\.0\\.0\\.5:${s.web.port}: 1 blocked attempt by \\S*/curl — allow it with '127\\.0\\.0\\.5:${s.web.port}'$`));
        const md = readFileSync(summary, 'utf8');
        assert.ok(md.startsWith('# earlier step\n'), 'appended, not overwritten');
        assert.match(md, /### tethered: 1 destination blocked/);
        assert.match(md, /\| Destination \| Protocol \| Attempts \| Blocked \| Allowed \| Processes \| Rule \|/);
        assert.match(md, new RegExp(`\\| ❌ \`127\\.0\\.0\\.5:${s.web.port}\` \\| tcp \\| 1 \\| 1 \\| 0 \\| \\S*/curl \\| \`127\\.0\\.0\\.5:${s.web.port}\` \\|`));
        assert.match(md, new RegExp(`\\| \`127\\.0\\.0\\.2:${s.allowed.port}\` \\| tcp \\| 1 \\| 0 \\| 1 \\| \\S*/netprobe \\| \`127\\.0\\.0\\.2:${s.allowed.port}\` \\|`));
    });

    test('--report json writes one JSON document; --report junit=FILE one testcase per destination, failures for blocked ones', async () => {
        const junit = join(dir, 'junit.xml');
        const script = `${netprobe()} connect-ip 127.0.0.4 ${s.blocked.port}; ${netprobe()} connect-ip 127.0.0.2 ${s.allowed.port}; exit 0`;
        const r = await tethered(['run', ...allow(), '--fail-on-block', '--report', 'json', '--report', `junit=${junit}`, '--', 'sh', '-c', script]);
        assert.equal(r.code, 3);
        const jsonText = r.stdout.slice(r.stdout.indexOf('{'));
        const doc = JSON.parse(jsonText);
        assert.equal(doc.status, 0);
        assert.equal(doc.exitCode, 3);
        assert.equal(doc.attempts, 2);
        assert.deepEqual(
            doc.destinations.map((d) => [d.destination, d.blocked, d.allowed, d.rule]),
            [
                [`127.0.0.4:${s.blocked.port}`, 1, 0, `127.0.0.4:${s.blocked.port}`],
                [`127.0.0.2:${s.allowed.port}`, 0, 1, `127.0.0.2:${s.allowed.port}`],
            ],
        );
        const xml = readFileSync(junit, 'utf8');
        assert.match(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<testsuites name="tethered" tests="2" failures="1">/);
        assert.equal(xml.match(/<testcase /g).length, 2);
        assert.equal(xml.match(/<failure /g).length, 1);
        assert.match(xml, new RegExp(`<testcase classname="tethered.tcp" name="127.0.0.4:${s.blocked.port}">\\n +<failure type="blocked" message="1 of 1 attempts blocked — allow it with '127.0.0.4:${s.blocked.port}'">`));
        // Balanced elements: every opened testcase/testsuite is closed.
        for (const tag of ['testsuites', 'testsuite', 'testcase', 'failure']) {
            assert.equal(xml.match(new RegExp(`<${tag}[ >]`, 'g')).length, xml.match(new RegExp(`</${tag}>`, 'g')).length, tag);
        }
    });

    test('bad --report and --summary values are usage errors; --version prints the package version', async () => {
        assert.equal((await tethered(['run', '--report', 'sarif', '--', 'true'])).code, 2);
        assert.equal((await tethered(['run', '--report', 'json=', '--', 'true'])).code, 2);
        assert.equal((await tethered(['run', '--summary', 'sometimes', '--', 'true'])).code, 2);
        const v = await tethered(['--version']);
        assert.equal(v.code, 0);
        assert.equal(v.stdout, JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version);
    });
});
