// Configuration discovery: tethered.config.json, or the "tethered" key of package.json, found from the
// working directory upward, used by run, learn, check and by activate() called without options.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { netprobe, serve, tcpServer } from '../helpers/shim.mjs';

const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** The CLI run in `cwd`, with no TETHERED_* of ours. */
async function tetheredIn(cwd, ...args) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('TETHERED_') || k === 'TETHERED_NETNS'));
    const child = spawn(process.execPath, [cli, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const [code] = await once(child, 'close');
    return { code, stdout: stdout.trim(), stderr };
}

/** A project with its config at the top and a working directory three levels below it. */
function project(files) {
    const top = mkdtempSync(join(tmpdir(), 'tethered-config-'));
    for (const [name, content] of Object.entries(files)) {
        mkdirSync(join(top, name, '..'), { recursive: true });
        writeFileSync(join(top, name), typeof content === 'string' ? content : JSON.stringify(content));
    }
    const nested = join(top, 'a', 'b', 'c');
    mkdirSync(nested, { recursive: true });
    return { top, nested };
}

describe('configuration discovery', { skip: NEEDS_NETNS }, () => {
    const s = serve({ allowed: () => tcpServer('127.0.0.2'), other: () => tcpServer('127.0.0.4') });

    test('run from a nested directory enforces the tethered.config.json above it', async () => {
        const { top, nested } = project({ 'tethered.config.json': { allow: [`127.0.0.2:${s.allowed.port}`], allowLocalhost: false } });
        const script = `${netprobe()} connect-ip 127.0.0.2 ${s.allowed.port}; ${netprobe()} connect-ip 127.0.0.4 ${s.other.port}`;
        const [allowedBefore, otherBefore] = [s.allowed.connections, s.other.connections];
        const r = await tetheredIn(nested, 'run', '--', 'sh', '-c', script);
        const [first, second] = r.stdout.split('\n');
        assert.match(first, /^ok/);
        assert.equal(second, 'error EACCES');
        assert.equal(s.allowed.connections, allowedBefore + 1);
        assert.equal(s.other.connections, otherBefore, 'the destination the config does not allow saw nothing');
        assert.match(r.stderr, new RegExp(`policy from ${join(top, 'tethered.config.json').replace(/[.]/g, '\\.')}`));
        // Control: with --no-config the same command reaches both peers (loopback allowed by default).
        const free = await tetheredIn(nested, 'run', '--no-config', '--', 'sh', '-c', script);
        assert.doesNotMatch(free.stdout, /EACCES/);
        assert.equal(s.other.connections, otherBefore + 1);
    });

    test('the "tethered" key of package.json is read; a nearer tethered.config.json wins over it', async () => {
        const { top, nested } = project({ 'package.json': { name: 'x', tethered: { allow: ['pkg.example.test:443'] } } });
        const fromPkg = await tetheredIn(nested, 'check');
        assert.equal(fromPkg.code, 0, fromPkg.stderr);
        assert.match(fromPkg.stdout, /^allow {2}pkg\.example\.test:443$/m);
        assert.match(fromPkg.stderr, /policy from \S+package\.json/);
        writeFileSync(join(top, 'a', 'tethered.config.json'), JSON.stringify({ allow: ['near.example.test'] }));
        const near = await tetheredIn(nested, 'check');
        assert.match(near.stdout, /^allow {2}near\.example\.test$/m);
        assert.doesNotMatch(near.stdout, /pkg\.example\.test/);
        // A package.json without the key is passed over.
        const { nested: none } = project({ 'package.json': { name: 'y' } });
        assert.equal((await tetheredIn(none, 'check')).code, 2, 'no rules anywhere');
    });

    test('a bad configuration stops run before the command, naming the file and the key', async () => {
        const { nested } = project({ 'package.json': { tethered: { alow: ['x.example.test'] } } });
        const r = await tetheredIn(nested, 'run', '--', 'true');
        assert.equal(r.code, 2);
        assert.match(r.stderr, /package\.json \("tethered" key\): unknown key "alow"/);
    });

    test('learn starts from the configuration and keeps its rules', async () => {
        const { nested } = project({ 'tethered.config.json': { allow: ['kept.example.test:443'] } });
        const r = await tetheredIn(nested, 'learn', '--', 'sh', '-c', `${netprobe()} gai new.example.test >/dev/null; true`);
        assert.deepEqual(r.stdout.split('\n'), ['kept.example.test:443', 'new.example.test']);
        assert.match(r.stderr, /nothing used in this run: kept\.example\.test:443/);
    });

    test('activate() without options enforces the configuration found from the working directory', async () => {
        const { nested } = project({ 'tethered.config.json': { allow: [`127.0.0.2:${s.allowed.port}`], allowLocalhost: false } });
        const otherBefore = s.other.connections;
        const r = await inFreshNode(`
            process.chdir(${JSON.stringify(nested)});
            t.activate();
            print(await connectJs('127.0.0.2', ${s.allowed.port}));
            print(await connectJs('127.0.0.4', ${s.other.port}));
            print(t.status().rules.allow);
        `);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.results[0], 'ok');
        assert.notEqual(r.results[1], 'ok');
        assert.deepEqual(r.results[2], [`127.0.0.2:${s.allowed.port}`]);
        assert.equal(s.other.connections, otherBefore, 'blocked in-process too');
        const none = mkdtempSync(join(tmpdir(), 'tethered-noconfig-'));
        const missing = await inFreshNode(`
            process.chdir(${JSON.stringify(none)});
            try { t.activate(); print('activated'); } catch (e) { print(e.constructor.name + ': ' + e.message); }
        `);
        assert.match(missing.results[0], /^TypeError: activate\(\) without options reads tethered\.config\.json .* there is none/);
    });
});
