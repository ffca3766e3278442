// The public surface around the one policy: `tethered/register` (--import and --require) activating from
// the TETHERED_* environment, isEgressBlocked() across realms and cause chains, onBlocked exceptions
// reaching 'uncaughtException', unknown options refused with a did-you-mean, and the option types.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { root, runUnderShim, serve, tcpServer } from '../helpers/shim.mjs';

// A script that connects to the peer and prints what it got and what status() says.
const connectScript = (port) => `
const net = require('node:net');
net.connect(${port}, '127.0.0.2').on('connect', function () { this.destroy(); out('connected'); }).on('error', (e) => out(e.code));
function out(result) {
    let s = null;
    try { s = require('tethered').status(); } catch {}
    console.log(JSON.stringify({ result, active: s?.active, allow: s?.rules.allow }));
}`;

describe('tethered/register', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2') });
    const env = { TETHERED_ALLOW: 'api.example.test', TETHERED_ALLOW_LOCALHOST: '0', TETHERED_LOG: 'off' };

    async function runNode(args, extraEnv, preload = false) {
        const before = s.tcp.connections;
        const r = await runUnderShim(process.execPath, [...args, '-e', connectScript(s.tcp.port)], extraEnv, { preload });
        await sleep(100);
        assert.equal(r.code, 0, r.stderr);
        return { out: JSON.parse(r.stdout), reached: s.tcp.connections - before };
    }

    for (const flag of ['--import', '--require']) {
        test(`node ${flag} tethered/register activates the environment's policy before the script: its connect is blocked with EgressBlocked`, async () => {
            const r = await runNode([flag, 'tethered/register'], env);
            assert.deepEqual(r.out, { result: 'ERR_EGRESS_BLOCKED', active: true, allow: ['api.example.test'] });
            assert.equal(r.reached, 0, 'the blocked peer saw a connection');
        });
    }

    test('control: the same script without tethered/register reaches the peer', async () => {
        const r = await runNode([], env);
        assert.equal(r.out.result, 'connected');
        assert.equal(r.reached, 1);
    });

    test('without a policy in the environment, tethered/register does nothing: the connect reaches the peer', async () => {
        const r = await runNode(['--require', 'tethered/register'], { TETHERED_LOG: 'off' });
        assert.deepEqual(r.out, { result: 'connected', active: false, allow: [] });
        assert.equal(r.reached, 1);
    });

    test('under a preloaded shim (as tethered run starts Node), a caller gets EgressBlocked instead of a bare EACCES', async () => {
        const bare = await runNode([], env, true);
        assert.equal(bare.out.result, 'EACCES');
        const r = await runNode(['--require', 'tethered/register'], env, true);
        assert.equal(r.out.result, 'ERR_EGRESS_BLOCKED');
        assert.equal(r.reached + bare.reached, 0, 'the blocked peer saw a connection');
    });
});

describe('errors that survive realms', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2') });

    test('a blocked fetch inside a vm context carries code, host, ip, port and rule; isEgressBlocked finds it through cause', async () => {
        const r = await inFreshNode(`
            const vm = require('node:vm');
            t.activate({ allow: [], allowLocalhost: false });
            const context = vm.createContext({ fetch });
            const err = await vm.runInContext('fetch("http://127.0.0.2:${s.tcp.port}/").then(() => null, (e) => e)', context);
            const c = err.cause;
            print([t.isEgressBlocked(err), c.code, c.host, c.ip, c.port, c.rule]);
            print(t.isEgressBlocked(new Error('outer', { cause: new Error('middle', { cause: err }) })));
        `);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, [[true, 'ERR_EGRESS_BLOCKED', null, '127.0.0.2', s.tcp.port, `127.0.0.2:${s.tcp.port}`], true]);
        assert.equal(s.tcp.connections, 0, 'the blocked peer saw a connection');
    });

    test('isEgressBlocked is duck-typed on the code and fields, and refuses look-alikes and cycles', async () => {
        const { isEgressBlocked } = await import(join(root, 'dist', 'index.mjs'));
        const fields = { code: 'ERR_EGRESS_BLOCKED', host: 'a.test', ip: null, port: 443, event: {} };
        assert.equal(isEgressBlocked(fields), true);
        assert.equal(isEgressBlocked({ cause: { cause: fields } }), true);
        assert.equal(isEgressBlocked({ code: 'ERR_EGRESS_BLOCKED' }), false, 'a code without the fields');
        assert.equal(isEgressBlocked({ ...fields, code: 'EACCES' }), false);
        const loop = { cause: null };
        loop.cause = loop;
        assert.equal(isEgressBlocked(loop), false);
        for (const v of [null, undefined, 'ERR_EGRESS_BLOCKED', 5]) assert.equal(isEgressBlocked(v), false);
    });
});

describe('callbacks and options', { skip: NEEDS_NETNS }, () => {
    const s = serve({ tcp: () => tcpServer('127.0.0.2') });

    test("an exception thrown in onBlocked reaches 'uncaughtException', without a deprecation warning", async () => {
        const r = await inFreshNode(`
            process.on('uncaughtException', (e) => print(['uncaught', e.message]));
            t.activate({ allow: [], allowLocalhost: false, onBlocked: (e) => { throw new Error('from onBlocked ' + e.port); } });
            print(await connectJs('127.0.0.2', ${s.tcp.port}));
            await tick();
        `);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, ['ERR_EGRESS_BLOCKED', ['uncaught', `from onBlocked ${s.tcp.port}`]]);
        assert.doesNotMatch(r.stderr, /DEP0168|Unhandled exception in Node-API/);
    });

    test('an unknown option is refused with a did-you-mean, and nothing is put in force', async () => {
        const r = await inFreshNode(`
            const msg = (fn) => { try { fn(); return 'ok'; } catch (e) { return [e.name, e.message.split(' (known')[0]]; } };
            print(msg(() => t.activate({ allow: [], logonly: true })));
            print(msg(() => t.activate({ alow: ['a.test'] })));
            print(msg(() => t.activate({ allow: [], bogus: 1 })));
            print(await t.noEgress({ alow: [] }, () => 1).then(() => 'ok', (e) => [e.name, e.message.split(' (known')[0]]));
            print(t.status().active);
        `);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(r.results, [
            ['TypeError', "activate(): unknown option 'logonly' — did you mean 'logOnly'?"],
            ['TypeError', "activate(): unknown option 'alow' — did you mean 'allow'?"],
            ['TypeError', "activate(): unknown option 'bogus'"],
            ['TypeError', "noEgress(): unknown option 'alow' — did you mean 'allow'?"],
            false,
        ]);
    });
});

describe('types', () => {
    test("locked: true without a lockToken does not compile; EgressEvent's reason and op are string unions", () => {
        const dir = mkdtempSync(join(tmpdir(), 'tethered-types-'));
        const file = join(dir, 'check.ts');
        writeFileSync(
            file,
            `import { activate, type EgressEvent } from ${JSON.stringify(join(root, 'dist', 'index.js'))};
            activate({ allow: [], locked: true, lockToken: {} });
            activate({ allow: [], lockToken: {} });
            // @ts-expect-error locked: true needs a lockToken
            activate({ allow: [], locked: true });
            declare const e: EgressEvent;
            // @ts-expect-error not a reason
            const r: typeof e.reason = 'no-such-reason';
            const ok: typeof e.reason = 'deny-rule';
            const op: typeof e.op = 'syscall(connect)';
            // @ts-expect-error not an op
            const bad: typeof e.op = 'telnet';
            export { r, ok, op, bad };
            `,
        );
        const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
        // Fails (throws with the compiler's output) when an expected error is missing or another appears.
        execFileSync(process.execPath, [tsc, '--ignoreConfig', '--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--skipLibCheck', '--types', 'node', '--typeRoots', join(root, 'node_modules', '@types'), file], { encoding: 'utf8', cwd: dir });
    });
});
