// Node programs under `tethered run`: the run puts its register entry in NODE_OPTIONS, so a Node caller gets
// EgressBlocked (code, host, port, rule) rather than a bare EACCES, and the run's events, readable lines,
// JSON lines and GitHub annotations name the JavaScript caller (file and line). And `node --require
// tethered/register` activates the project's configuration file when the environment has no policy.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { root, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'tethered-run-node-'));

// Connects to the peer, sends a line, and prints what happened as JSON on stdout.
const script = join(dir, 'client.js');
writeFileSync(
    script,
    `const net = require('node:net');
const [host, port] = process.argv.slice(2);
const socket = net.connect(Number(port), host); // line 3: the caller's line
socket.on('connect', () => socket.write('ping\\n'));
socket.on('data', (d) => { console.log(JSON.stringify({ result: 'reply', reply: String(d).trim() })); socket.destroy(); });
socket.on('error', (e) => console.log(JSON.stringify({ result: e.code, name: e.name, ip: e.ip ?? null, port: e.port ?? null, rule: e.rule ?? null })));
`,
);

const tethered = (args, env = {}) =>
    runUnderShim(process.execPath, [cli, ...args], { TETHERED_LOG: undefined, GITHUB_STEP_SUMMARY: undefined, NODE_OPTIONS: undefined, ...env }, { preload: false });

describe('Node programs under tethered run', { skip: NEEDS_NETNS }, () => {
    const s = serve({ allowed: () => tcpServer('127.0.0.2'), blocked: () => tcpServer('127.0.0.4') });
    const allow = () => ['--no-localhost', '--allow', `127.0.0.2:${s.allowed.port}`];
    const client = (host, port) => ['node', script, host, String(port)];

    test('a blocked connect reaches the Node caller as EgressBlocked with ip, port and rule, and the peer never sees it', async () => {
        const before = s.blocked.connections;
        const r = await tethered(['run', ...allow(), '--', ...client('127.0.0.4', s.blocked.port)]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), { result: 'ERR_EGRESS_BLOCKED', name: 'EgressBlocked', ip: '127.0.0.4', port: s.blocked.port, rule: `127.0.0.4:${s.blocked.port}` });
        await sleep(50);
        assert.equal(s.blocked.connections, before, 'the blocked peer saw a connection');
    });

    test('control: the same program without tethered reaches that peer', async () => {
        const before = s.blocked.connections;
        const r = await runUnderShim(process.execPath, [script, '127.0.0.4', String(s.blocked.port)], {}, { preload: false });
        assert.deepEqual(JSON.parse(r.stdout), { result: 'reply', reply: 'pong:ping' });
        assert.equal(s.blocked.connections, before + 1);
    });

    test("the run's readable line, its JSON event and its GitHub annotation name the caller's file and line", async () => {
        const events = join(dir, 'events.jsonl');
        const r = await tethered(['run', ...allow(), '--log', events, '--report', 'github', '--', ...client('127.0.0.4', s.blocked.port)], { GITHUB_WORKSPACE: dir });
        assert.equal(r.code, 0, r.stderr);
        const readable = r.stderr.split('\n').filter((l) => l.startsWith('tethered: blocked'));
        assert.equal(readable.length, 0, '--log to a file: no readable lines');
        const lines = (await import('node:fs')).readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        assert.equal(lines.length, 1, 'one attempt, one event (the evidence joined to it)');
        assert.equal(lines[0].decision, 'block');
        assert.match(lines[0].stack, new RegExp(`${script.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:`));
        assert.match(r.stdout, new RegExp(`^::error file=client\\.js,line=3,title=tethered%3A blocked 127\\.0\\.0\\.4%3A${s.blocked.port}::`, 'm'));

        const terminal = await tethered(['run', ...allow(), '--', ...client('127.0.0.4', s.blocked.port)]);
        assert.match(terminal.stderr, new RegExp(`tethered: blocked tcp 127\\.0\\.0\\.4:${s.blocked.port} by \\S+ \\[pid \\d+\\] at .*client\\.js:3:\\d+\\)?: allow it with`));
    });

    test('a program that appends a forged allow line for its own blocked event to the run log does not hide the block from --fail-on-block', async () => {
        const forger = join(dir, 'forger.js');
        writeFileSync(
            forger,
            `const net = require('node:net');
const { appendFileSync } = require('node:fs');
net.connect(Number(process.argv[3]), process.argv[2]).on('error', (e) => {
    const seq = e.event && e.event.seq;
    appendFileSync(process.env.TETHERED_LOG, JSON.stringify({ decision: 'allow', op: 'connect', protocol: 'tcp', host: null, ip: e.ip, port: e.port, rule: null, reason: 'allow-rule', pid: process.pid, seq }) + '\\n');
    console.log('forged ' + seq);
});
`,
        );
        const r = await tethered(['run', ...allow(), '--fail-on-block', '--', 'node', forger, '127.0.0.4', String(s.blocked.port)]);
        assert.match(r.stdout, /^forged \d+$/, r.stderr);
        assert.equal(r.code, 3, r.stderr);
        assert.match(r.stderr, new RegExp(`--fail-on-block: 1 destination was blocked: 127\\.0\\.0\\.4:${s.blocked.port}`));
    });

    test('log-only: the Node caller connects, and the attempt is reported once', async () => {
        const before = s.blocked.connections;
        const events = join(dir, 'log-only.jsonl');
        const r = await tethered(['run', ...allow(), '--log-only', '--log', events, '--', ...client('127.0.0.4', s.blocked.port)]);
        assert.deepEqual(JSON.parse(r.stdout), { result: 'reply', reply: 'pong:ping' });
        assert.equal(s.blocked.connections, before + 1);
        const lines = (await import('node:fs')).readFileSync(events, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
        assert.deepEqual(
            lines.map((e) => [e.decision, e.port]),
            [['would-block', s.blocked.port]],
        );
    });

    test('allowed: data round-trips, and the user NODE_OPTIONS are kept beside the register entry (once, however deep)', async () => {
        const probe = join(dir, 'options.js');
        writeFileSync(probe, 'console.log(JSON.stringify({ options: process.env.NODE_OPTIONS, title: process.title }))');
        const r = await tethered(['run', ...allow(), '--', ...client('127.0.0.2', s.allowed.port)]);
        assert.deepEqual(JSON.parse(r.stdout), { result: 'reply', reply: 'pong:ping' });
        const nested = await tethered(['run', ...allow(), '--', process.execPath, cli, 'run', ...allow(), '--', 'node', probe], { NODE_OPTIONS: '--title=tethered-probe' });
        assert.equal(nested.code, 0, nested.stderr);
        const out = JSON.parse(nested.stdout);
        assert.equal(out.options.match(/--require/g).length, 1, out.options);
        assert.match(out.options, /^--title=tethered-probe --require ".*run-register\.js"$/);
        assert.equal(out.title, 'tethered-probe', 'the user option still applies');
    });
});

describe('tethered/register and the project configuration', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.4') });

    async function inProject(config, args) {
        const project = mkdtempSync(join(tmpdir(), 'tethered-project-'));
        if (config) writeFileSync(join(project, 'tethered.config.json'), JSON.stringify(config));
        const before = s.tcp.connections;
        const r = await runUnderShim(process.execPath, [...args, script, '127.0.0.4', String(s.tcp.port)], { TETHERED_LOG: 'off', NODE_PATH: join(root, '..') }, { preload: false, cwd: project });
        await sleep(50);
        return { out: JSON.parse(r.stdout), reached: s.tcp.connections - before, stderr: r.stderr };
    }

    test('without a policy in the environment, --require tethered/register activates tethered.config.json: the connect is blocked', async () => {
        const r = await inProject({ allow: ['api.example.test:443'], allowLocalhost: false }, ['--require', join(root, 'dist', 'register.js')]);
        assert.equal(r.out.result, 'ERR_EGRESS_BLOCKED', r.stderr);
        assert.equal(r.reached, 0);
    });

    test('log-only in the configuration: the connect goes through', async () => {
        const r = await inProject({ allow: ['api.example.test:443'], allowLocalhost: false, mode: 'log' }, ['--require', join(root, 'dist', 'register.js')]);
        assert.equal(r.out.result, 'reply');
        assert.equal(r.reached, 1);
    });

    test('control: no configuration, or no register entry, and the connect reaches the peer', async () => {
        const none = await inProject(null, ['--require', join(root, 'dist', 'register.js')]);
        assert.equal(none.out.result, 'reply');
        const plain = await inProject({ allow: ['api.example.test:443'], allowLocalhost: false }, []);
        assert.equal(plain.out.result, 'reply');
        assert.equal(none.reached + plain.reached, 2);
    });
});
