// The strict supervisor is pinned when strict mode is turned on (native/shim/pin.c): a copy in a sealed
// memfd, executed through its descriptor. The package directory is usually writable by the user, so a
// filtered child could put a pass-through script where tethered-strict was; the next child must still run
// under the real supervisor. Each test works on a copy of the package in a temporary directory (never on
// build/Release, which the other test files use at the same time).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { root } from '../helpers/cbuild.mjs';
import { serve, tcpServer } from '../helpers/shim.mjs';
import { strictProbe } from './programs.mjs';

const skip = NEEDS_NETNS;
const PASS_THROUGH = '#!/bin/sh\nshift 3\nexec "$@"\n'; // drops "--exec PATH --" and runs the command as is

let n = 0;
const marker = (what) => `${what}-${process.pid}-${++n}`;

const copies = [];
after(() => copies.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A copy of the package (package.json, dist, build/Release's three binaries); { dir, supervisor }. */
function packageCopy() {
    const dir = mkdtempSync(join(tmpdir(), 'tethered-pin-'));
    copies.push(dir);
    cpSync(join(root, 'package.json'), join(dir, 'package.json'));
    cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
    mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
    for (const f of ['tethered.node', 'libtethered.so', 'tethered-strict']) cpSync(join(root, 'build', 'Release', f), join(dir, 'build', 'Release', f));
    return { dir, supervisor: join(dir, 'build', 'Release', 'tethered-strict') };
}

/** What an attacker able to write the package directory does: a pass-through script at the supervisor's path. */
const replaceSupervisor = (path) => `(() => { const fs = require('node:fs'); fs.unlinkSync(${JSON.stringify(path)}); fs.writeFileSync(${JSON.stringify(path)}, ${JSON.stringify(PASS_THROUGH)}, { mode: 0o755 }); })();`;

/** Runs `body` in a fresh node with `tc` = the package copy in `dir`; the printed results. */
async function fresh(dir, body) {
    const r = await inFreshNode(`
        const tc = require(${JSON.stringify(dir)});
        const cp = require('node:child_process');
        const probe = ${JSON.stringify(strictProbe())};
        const childRun = (args, env) => {
            const c = cp.spawnSync(probe, args, { env, encoding: 'utf8' });
            return { out: (c.stdout || '').trim(), stderr: c.stderr, error: c.error && c.error.code };
        };
        ${body}`);
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.results));
    return r.results;
}

describe('the strict supervisor is pinned when strict mode is turned on', { skip }, () => {
    const s = serve({ peer: () => tcpServer('127.0.0.2') });
    const base = { allow: ['127.0.0.3'], allowLocalhost: false };

    test('control: the pass-through script at the supervisor\'s path, run as the shim used to run it, lets the probe reach the blocked peer', async () => {
        const { supervisor } = packageCopy();
        unlinkSync(supervisor);
        writeFileSync(supervisor, PASS_THROUGH);
        chmodSync(supervisor, 0o755);
        const m = marker('script-by-path');
        const stdout = await new Promise((resolve, reject) =>
            execFile(supervisor, ['--exec', strictProbe(), '--', strictProbe(), 'raw', '127.0.0.2', String(s.peer.port), m], { env: { TETHERED_ALLOW: '127.0.0.3' } }, (e, out) => (e ? reject(e) : resolve(out))),
        );
        assert.equal(stdout.trim(), `ok pong:${m}`);
        assert.ok(s.peer.lines.includes(m));
    });

    test("children: 'strict': after the supervisor's file is replaced by a pass-through script, the next children (spawn, a shell's exec, an exec of the file at the supervisor's path itself) are still judged: blocked, nothing reaches the peer; an allowed peer still works", async () => {
        const { dir, supervisor } = packageCopy();
        const [m1, m2, m3, m4] = [marker('pinned-spawn'), marker('pinned-shell'), marker('pinned-self'), marker('pinned-allowed')];
        const [direct, shell, self, allowed] = await fresh(dir, `
            tc.activate({ ...${JSON.stringify(base)}, children: 'strict' });
            ${replaceSupervisor(supervisor)}
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m1}'], {}));
            print(cp.spawnSync('/bin/sh', ['-c', probe + ' raw 127.0.0.2 ${s.peer.port} ${m2}'], { env: {}, encoding: 'utf8' }).stdout.trim());
            print(cp.spawnSync(${JSON.stringify(supervisor)}, ['--exec', probe, '--', probe, 'raw', '127.0.0.2', '${s.peer.port}', '${m3}'], { env: {}, encoding: 'utf8' }).stdout.trim());
            tc.activate({ allow: ['127.0.0.2:${s.peer.port}'], allowLocalhost: false, children: 'strict' });
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m4}'], {}).out);`);
        assert.equal(direct.out, 'error EACCES', direct.stderr);
        assert.equal(shell, 'error EACCES');
        assert.equal(self, 'error EACCES');
        for (const m of [m1, m2, m3]) assert.ok(!s.peer.lines.includes(m), m);
        assert.equal(allowed, `ok pong:${m4}`);
        assert.ok(s.peer.lines.includes(m4));
    });

    test("children: 'strict' with a script at the supervisor's path before activate(): every exec is refused (EACCES, the script never runs) and nothing reaches the peer", async () => {
        const { dir, supervisor } = packageCopy();
        const m = marker('script-before');
        const [r] = await fresh(dir, `
            ${replaceSupervisor(supervisor)}
            tc.activate({ ...${JSON.stringify(base)}, children: 'strict' });
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m}'], {}));`);
        assert.equal(r.error, 'EACCES', JSON.stringify(r));
        assert.ok(!s.peer.lines.includes(m));
    });

    test('strict: true with a script at the supervisor\'s path: activate() throws ERR_TETHERED_STRICT_UNAVAILABLE (not an ELF executable) and changes nothing', async () => {
        const { dir, supervisor } = packageCopy();
        const [thrown, status] = await fresh(dir, `
            ${replaceSupervisor(supervisor)}
            try { tc.activate({ ...${JSON.stringify(base)}, strict: true }); print('activated'); } catch (e) { print({ code: e.code, message: e.message }); }
            print(tc.status().strict);`);
        assert.equal(thrown.code, 'ERR_TETHERED_STRICT_UNAVAILABLE');
        assert.match(thrown.message, /not an ELF executable/);
        assert.equal(status, false);
    });
});
