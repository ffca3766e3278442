// Strict mode's in-process entry points (docs/strict-mode.md, Entry points), in a fresh node each:
//  - activate({ strict: true }): the Node process itself, its threads (also those started before it) and its
//    children are under the filter: a raw `syscall` connect from a native addon (which no libc hook sees)
//    and a static child program are blocked, reported once in log mode, allowed with data round-tripping;
//    deactivate() lets everything through unless the policy is locked; a dead supervisor fails closed.
//  - activate({ children: 'strict' }): every child runs under its own supervisor, whatever environment it is
//    given, and so do its descendants.
// Each block is checked on the peer's side (the marker never arrives), with a positive control showing the
// same probe does reach the peer without strict mode.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode, testAddon } from '../helpers/inprocess.mjs';
import { root } from '../helpers/cbuild.mjs';
import { logFile, readEvents, serve, tcpServer } from '../helpers/shim.mjs';
import { runStrict, strictProbe } from './programs.mjs';
import { buildC } from '../helpers/cbuild.mjs';

/** test/strict/c/grabber.c: a hostile addon whose thread dup()s the filter's listener as soon as it appears. */
const grabberAddon = () => buildC('grabber', [join(root, 'test/strict/c/grabber.c')], { shared: true, suffix: '.node', includes: ['/usr/include/node'] });
/** test/strict/c/uring_hider.c: a hostile addon whose thread keeps an io_uring instance in a descriptor table of its own. */
const hiderAddon = () => buildC('uring_hider', [join(root, 'test/strict/c/uring_hider.c')], { shared: true, suffix: '.node', includes: ['/usr/include/node'] });

const skip = NEEDS_NETNS;
const EACCES = 13;
const ENOSYS = 38;

let n = 0;
const marker = (what) => `${what}-${process.pid}-${++n}`;

/** Runs `body` in a fresh node; `probe` is the static strict probe, `childRun(args, env)` runs it. */
async function fresh(body, options) {
    const r = await inFreshNode(
        `
        const cp = require('node:child_process');
        const probe = ${JSON.stringify(strictProbe())};
        const childRun = (args, env) => {
            const c = cp.spawnSync(probe, args, { env, encoding: 'utf8' });
            const events = c.stderr.split('\\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
            return { out: c.stdout.trim(), events, stderr: c.stderr };
        };
        const strictEvents = (seen) => seen.filter((e) => e.layer === 'strict').map((e) => [e.decision, e.op, e.ip, e.port]);
        ${body}`,
        options,
    );
    assert.equal(r.code, 0, r.stderr + JSON.stringify(r.results));
    return r.results;
}

describe('activate({ strict: true }): the Node process itself, its threads and its children', { skip }, () => {
    const s = serve({ peer: () => tcpServer('127.0.0.2') });
    const policy = (extra) => JSON.stringify({ allowLocalhost: false, ...extra });

    test('control: a raw-syscall connect from a native addon passes activate() without strict mode (the libc layer cannot see it) and reaches the peer', async () => {
        const m = marker('control');
        const [answer] = await fresh(`
            t.activate(${policy({ allow: ['127.0.0.3'] })});
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, ${JSON.stringify(m)}));`);
        assert.equal(answer, `ok pong:${m}`);
        assert.ok(s.peer.lines.includes(m));
    });

    test('a raw-syscall connect from a native addon is blocked with EACCES, nothing reaches the peer, one strict event reaches onBlocked and the TETHERED_LOG file; every copy of the package reports strict', async () => {
        const m = marker('blocked');
        const log = logFile();
        const [answer, events, status] = await fresh(`
            const seen = [];
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, strict: true, onBlocked: (e) => seen.push(e) });
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, ${JSON.stringify(m)}));
            await tick();
            print(strictEvents(seen));
            // another copy of the package (a cleared require.cache) and the ESM entry tell the same
            for (const k of Object.keys(require.cache)) delete require.cache[k];
            const copy = require(${JSON.stringify(root)});
            const esm = await import(${JSON.stringify(join(root, 'dist', 'index.mjs'))});
            print([copy !== t && copy.status().strict, esm.status().strict]);`, { env: { TETHERED_LOG: log } });
        assert.equal(answer, `error ${EACCES}`);
        assert.ok(!s.peer.lines.includes(m), 'the marker reached the peer');
        assert.deepEqual(events, [['block', 'connect', '127.0.0.2', s.peer.port]]);
        assert.deepEqual(status, [true, true], 'status().strict from every copy of the JavaScript');
        const logged = readEvents(log);
        assert.deepEqual(logged.map((e) => [e.decision, e.layer, e.ip, e.port, e.rule, e.reason]), [['block', 'strict', '127.0.0.2', s.peer.port, `127.0.0.2:${s.peer.port}`, 'no-rule']]);
    });

    test('log-only: the raw connect goes through and is reported once; a JavaScript connect seen by both layers is reported once too', async () => {
        const m = marker('log');
        const [answer, events, js, all] = await fresh(`
            const seen = [];
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, logOnly: true, strict: true, onBlocked: (e) => seen.push(e) });
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, ${JSON.stringify(m)}));
            await tick();
            print(strictEvents(seen));
            seen.length = 0;
            print(await connectJs('127.0.0.2', ${s.peer.port}));
            await tick(); await tick();
            print(seen.map((e) => [e.decision, e.layer ?? 'libc']));`);
        assert.equal(answer, `ok pong:${m}`);
        assert.ok(s.peer.lines.includes(m));
        assert.deepEqual(events, [['would-block', 'connect', '127.0.0.2', s.peer.port]]);
        assert.equal(js, 'ok');
        assert.deepEqual(all, [['would-block', 'libc']], 'the libc layer reports it (with the JavaScript stack); the supervisor does not again');
    });

    test('allowed by an address rule: the raw connect and a JavaScript connect work, data round-trips, no event', async () => {
        const m = marker('allowed');
        const [answer, js, seen] = await fresh(`
            const seen = [];
            t.activate({ ...${policy({ allow: [`127.0.0.2:${s.peer.port}`] })}, strict: true, onBlocked: (e) => seen.push(e) });
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, ${JSON.stringify(m)}));
            print(await connectJs('127.0.0.2', ${s.peer.port}));
            await tick();
            print(seen);`);
        assert.equal(answer, `ok pong:${m}`);
        assert.ok(s.peer.lines.includes(m));
        assert.equal(js, 'ok');
        assert.deepEqual(seen, []);
    });

    test('a static child program (raw syscalls, spawned with an empty environment) and its grandchildren are judged by the same supervisor; without strict mode it reaches the peer', async () => {
        const [m0, m1, m2, m3] = [marker('child-control'), marker('child'), marker('grandchild'), marker('child-ok')];
        const [control] = await fresh(`
            t.activate(${policy({ allow: ['127.0.0.3'] })});
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m0}'], {}).out);`);
        assert.equal(control, `ok pong:${m0}`, 'children: inherit cannot follow a static program');
        assert.ok(s.peer.lines.includes(m0));
        const [child, grandchild, events] = await fresh(`
            const seen = [];
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, strict: true, onBlocked: (e) => seen.push(e) });
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m1}'], {}).out);
            print(childRun(['chain', '2', '127.0.0.2', '${s.peer.port}', '${m2}'], {}).out);
            await tick();
            print(seen.filter((e) => e.layer === 'strict').map((e) => [e.decision, /strictprobe/.test(e.exe)]));`);
        assert.equal(child, 'error EACCES');
        assert.equal(grandchild, 'error EACCES');
        assert.ok(!s.peer.lines.includes(m1) && !s.peer.lines.includes(m2));
        assert.deepEqual(events, [['block', true], ['block', true]]);
        const [allowed] = await fresh(`
            t.activate({ ...${policy({ allow: [`127.0.0.2:${s.peer.port}`] })}, strict: true });
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m3}'], {}).out);`);
        assert.equal(allowed, `ok pong:${m3}`);
        const m4 = marker('child-log');
        const [logged, logEvents] = await fresh(`
            const seen = [];
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, logOnly: true, strict: true, onBlocked: (e) => seen.push(e) });
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m4}'], {}).out);
            await tick();
            print(strictEvents(seen));`);
        assert.equal(logged, `ok pong:${m4}`);
        assert.deepEqual(logEvents, [['would-block', 'connect', '127.0.0.2', s.peer.port]]);
    });

    test('io_uring and the 32-bit table (int 0x80) from a child: they reach the peer without strict mode, and are refused (ENOSYS) under strict: true', async () => {
        const [c1, c2, m1, m2] = [marker('uring-control'), marker('int80-control'), marker('uring'), marker('int80')];
        const control = await fresh(`
            t.activate(${policy({ allow: ['127.0.0.3'] })});
            print(childRun(['uring', '127.0.0.2', '${s.peer.port}', '${c1}'], {}).out);
            print(childRun(['int80', '127.0.0.2', '${s.peer.port}', '${c2}'], {}).out);`);
        assert.deepEqual(control, [`ok pong:${c1}`, `ok pong:${c2}`]);
        const strict = await fresh(`
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, strict: true });
            print(childRun(['uring', '127.0.0.2', '${s.peer.port}', '${m1}'], {}).out);
            print(childRun(['int80', '127.0.0.2', '${s.peer.port}', '${m2}'], {}).out);`);
        assert.deepEqual(strict, ['error setup ENOSYS', 'error ENOSYS']);
        assert.ok(!s.peer.lines.includes(m1) && !s.peer.lines.includes(m2));
    });

    test('a thread started before activate() (a worker) is under the filter too (TSYNC): its raw connect is blocked', async () => {
        const m = marker('worker');
        const [answer] = await fresh(`
            const { Worker } = require('node:worker_threads');
            const w = new Worker(\`
                const { parentPort } = require('node:worker_threads');
                const addon = require(${JSON.stringify(testAddon())});
                parentPort.on('message', (m) => { parentPort.postMessage(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, m)); process.exit(0); });
                parentPort.postMessage('ready');\`, { eval: true });
            const next = () => new Promise((r) => w.once('message', r));
            await next();
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, strict: true });
            w.postMessage(${JSON.stringify(m)});
            print(await next());`);
        assert.equal(answer, `error ${EACCES}`);
        assert.ok(!s.peer.lines.includes(m));
    });

    test('deactivate() without a lock: the supervisor lets everything through again (the filter stays, status says strict); activate() puts a policy back', async () => {
        const [m1, m2, m3] = [marker('before'), marker('after'), marker('again')];
        const [before, after, status, again] = await fresh(`
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, strict: true });
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m1}'));
            t.deactivate();
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m2}'));
            print(t.status());
            t.activate(${policy({ allow: ['127.0.0.3'] })});
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m3}'));`);
        assert.equal(before, `error ${EACCES}`);
        assert.equal(after, `ok pong:${m2}`);
        assert.ok(!s.peer.lines.includes(m1) && s.peer.lines.includes(m2));
        assert.equal(status.strict, true);
        assert.equal(status.active, false);
        assert.equal(again, `error ${EACCES}`);
        assert.ok(!s.peer.lines.includes(m3));
    });

    test('activate() again narrows or replaces the supervisor\'s policy (unlocked)', async () => {
        const [m1, m2] = [marker('wide'), marker('narrow')];
        const [wide, narrow] = await fresh(`
            t.activate({ ...${policy({ allow: [`127.0.0.2:${s.peer.port}`] })}, strict: true });
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m1}'));
            t.activate(${policy({ allow: ['127.0.0.3'] })});
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m2}'));`);
        assert.equal(wide, `ok pong:${m1}`);
        assert.equal(narrow, `error ${EACCES}`, 'a later activate() without strict: true still reaches the supervisor');
        assert.ok(!s.peer.lines.includes(m2));
    });

    // A native thread already running at activate() time (here one an addon started; the reviewer's was an
    // addon constructor's) dup()s the listener while it sits in the process's table, and could then answer
    // the process's notifications itself. `grab` starts it first; prints [activate()'s outcome, the copy's
    // number, the raw connect's answer, sendFd(copy), sendFd(an ordinary descriptor)].
    const grabAttempt = (m, grab) => fresh(`
            const grabber = require(${JSON.stringify(grabberAddon())});
            if (${grab}) grabber.start();
            let outcome = 'activated';
            try {
                t.activate({ ...${policy({ allow: [`127.0.0.3:${s.peer.port}`] })}, strict: true, locked: true, lockToken: {} });
            } catch (e) { outcome = [e.code, e.message]; }
            print(outcome);
            print(grabber.grabbed());
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m}'));
            print(${grab} ? grabber.sendFd(-1) : null);
            print(grabber.sendFd(0));`);

    test('a native thread that dup()s the listener while activate({ strict: true, locked: true }) hands it over: activate() throws, every judged call is refused and nothing reaches the peer; the copy cannot be passed on with SCM_RIGHTS', async () => {
        // The thread must be scheduled while the listener sits in the table (milliseconds; the machine may be
        // busy): a fresh attempt until it is, and an attempt where it is not must activate normally.
        let m, outcome, copy, answer, passed, ordinary;
        for (let attempt = 0; attempt < 8; attempt++) {
            m = marker('grabbed');
            [outcome, copy, answer, passed, ordinary] = await grabAttempt(m, true);
            if (copy >= 0) break;
            assert.equal(outcome, 'activated', 'no copy taken: nothing to refuse');
        }
        assert.ok(copy >= 0, 'the grabbing thread did get a copy of the listener (else this test proves nothing)');
        assert.equal(outcome[0], 'ERR_TETHERED_STRICT_FAILED', String(outcome));
        assert.match(outcome[1], /took a copy of the filter's listener/);
        assert.match(outcome[1], new RegExp(`descriptor ${copy} of process \\d+ is a copy of it`), 'the supervisor names the copy the thread took');
        assert.ok([`error ${EACCES}`, `error ${ENOSYS}`].includes(answer), answer);
        assert.ok(!s.peer.lines.includes(m));
        assert.equal(passed, EACCES, 'a sendmsg carrying the seccomp listener is refused');
        assert.equal(ordinary, 0, 'a sendmsg carrying an ordinary descriptor goes through');
    });

    test('control: the same locked activate() without the grabbing thread succeeds and blocks the raw connect (EACCES); nothing reaches the peer', async () => {
        const m = marker('not-grabbed');
        const [outcome, copy, answer, , ordinary] = await grabAttempt(m, false);
        assert.deepEqual([outcome, copy, answer, ordinary], ['activated', -1, `error ${EACCES}`, 0]);
        assert.ok(!s.peer.lines.includes(m));
    });

    // Writes `messages` to every socket of the process but its standard streams (the supervisor's channel
    // among them), as a hostile native addon could; evaluates to how many writes went through.
    const forge = (messages) => `(() => {
            const fs = require('node:fs');
            let wrote = 0;
            for (const fd of fs.readdirSync('/proc/self/fd').map(Number)) {
                let link = '';
                try { link = fs.readlinkSync('/proc/self/fd/' + fd); } catch { continue; }
                if (fd <= 2 || !link.startsWith('socket:')) continue;
                for (const m of ${JSON.stringify(messages)}) { try { fs.writeSync(fd, m); wrote++; } catch {} }
            }
            return wrote; })()`;

    test("control: without a lock, an 'off' message written to the supervisor's channel from inside the process does lift the policy (so the locked case below tests something)", async () => {
        const m = marker('forged-unlocked');
        const [wrote, answer] = await fresh(`
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, strict: true });
            print(${forge(['off\nkey=\n'])});
            await tick();
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m}'));`);
        assert.ok(wrote > 0);
        assert.equal(answer, `ok pong:${m}`);
    });

    test('locked: deactivate() and activate() without the token, with a wrong one and even with the token fail, and so does writing to the supervisor\'s channel from inside the process: a locked strict policy stays for the life of the process', async () => {
        const [m1, m2, m3] = [marker('locked'), marker('forged'), marker('unlocked')];
        const [attempts, forged, after, unlocked] = await fresh(`
            const lockToken = {};
            t.activate({ ...${policy({ allow: ['127.0.0.3'] })}, strict: true, locked: true, lockToken });
            const attempts = [];
            for (const f of [() => t.deactivate(), () => t.deactivate({ lockToken: {} }), () => t.activate({ allow: ['127.0.0.2'], allowLocalhost: false }),
                             () => t.activate({ allow: ['127.0.0.2'], allowLocalhost: false, lockToken: {} })]) {
                try { f(); attempts.push('changed'); } catch (e) { attempts.push(e.code ?? e.name); }
            }
            print(attempts);
            // A hostile native attacker holds the channel's descriptor: it writes 'off' with no key and with a forged one.
            const wrote = ${forge(['off\nkey=\n', `off\nkey=${'0'.repeat(64)}\n`, 'policy\nkey=\nlock=\nTETHERED_ALLOW=127.0.0.2\n'])};
            await tick();
            print(wrote > 0 ? addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m2}') : 'no channel found');
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m1}'));
            const withToken = [];
            for (const f of [() => t.deactivate({ lockToken }), () => t.activate({ allow: ['127.0.0.2'], allowLocalhost: false, lockToken })]) {
                try { f(); withToken.push('changed'); } catch (e) { withToken.push(e.code + ' ' + /for the life of this process/.test(e.message)); }
            }
            print([withToken, addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m3}'), t.status().locked, t.status().rules.allow]);`);
        assert.deepEqual(attempts, ['ERR_TETHERED_LOCKED', 'ERR_TETHERED_LOCKED', 'ERR_TETHERED_LOCKED', 'ERR_TETHERED_LOCKED']);
        assert.equal(forged, `error ${EACCES}`);
        assert.equal(after, `error ${EACCES}`);
        assert.ok(!s.peer.lines.includes(m1) && !s.peer.lines.includes(m2));
        assert.deepEqual(unlocked, [['ERR_TETHERED_LOCKED true', 'ERR_TETHERED_LOCKED true'], `error ${EACCES}`, true, ['127.0.0.3']], 'not even the lockToken changes a locked strict policy');
        assert.ok(!s.peer.lines.includes(m3));
    });

    test('killing the supervisor fails closed: every judged call then fails (ENOSYS), even one the policy allows', async () => {
        const [m1, m2, m3] = [marker('alive'), marker('dead'), marker('dead-js')];
        const [alive, killed, dead, js] = await fresh(`
            const fs = require('node:fs');
            t.activate({ ...${policy({ allow: [`127.0.0.2:${s.peer.port}`] })}, strict: true });
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m1}'));
            // the supervisor: this process's child running tethered-strict
            const sup = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).filter((p) => {
                try { const st = fs.readFileSync('/proc/' + p + '/stat', 'utf8'); return Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === process.pid && st.includes('(tethered-strict)'); } catch { return false; }
            });
            for (const p of sup) process.kill(Number(p), 'SIGKILL');
            print(sup.length);
            await tick(); await tick();
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, '${m2}'));
            print(await connectJs('127.0.0.2', ${s.peer.port}));`);
        assert.equal(alive, `ok pong:${m1}`);
        assert.equal(killed, 1);
        assert.equal(dead, `error ${ENOSYS}`);
        assert.notEqual(js, 'ok');
        assert.ok(!s.peer.lines.includes(m2) && !s.peer.lines.includes(m3));
    });

    test('where strict mode is unavailable (here: inside another strict supervisor, which refuses a second listener), activate({ strict: true }) throws ERR_TETHERED_STRICT_UNAVAILABLE naming the cause and changes nothing', async () => {
        const script = `
            const t = require(${JSON.stringify(root)});
            const out = {};
            try { t.activate({ allow: ['127.0.0.3'], allowLocalhost: false, strict: true }); out.thrown = null; } catch (e) { out.thrown = e.code; out.message = e.message; }
            out.status = t.status();
            process.stdout.write(JSON.stringify(out));`;
        const r = await runStrict(process.execPath, ['-e', script], { TETHERED_ALLOW: '127.0.0.2' });
        const out = JSON.parse(r.stdout);
        assert.equal(out.thrown, 'ERR_TETHERED_STRICT_UNAVAILABLE', r.stderr);
        assert.match(out.message, /strict mode is unavailable here: .*seccomp.*\(Operation not permitted\)/);
        assert.equal(out.status.strict, false);
        assert.equal(out.status.active, false, 'no policy was put in force');
    });

    // libuv keeps io_uring instances for its loops on Node.js 22 and later, and on Node.js 20 with
    // UV_USE_IO_URING=1. A filter loaded over them made libuv abort ("io_uring_enter: Function not
    // implemented"), and an SQPOLL ring would carry out operations no system call shows.
    const uringProbe = (strict) => `
            const fs = require('node:fs');
            fs.readFileSync('/etc/hostname'); await fs.promises.readFile('/etc/hostname'); // libuv's rings, if any
            const rings = fs.readdirSync('/proc/self/fd').filter((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f) === 'anon_inode:[io_uring]'; } catch { return false; } }).length;
            let thrown = null, message = '';
            try { t.activate({ allow: ['127.0.0.3'], allowLocalhost: false, strict: ${strict} }); } catch (e) { thrown = e.code; message = e.message; }
            await fs.promises.readFile('/etc/hostname'); // the event loop still works
            await tick();
            print([rings > 0, thrown, message, t.status().strict, t.status().active]);`;

    test('a process that already uses io_uring (libuv with UV_USE_IO_URING=1, as on Node.js 22 and later): activate({ strict: true }) throws ERR_TETHERED_STRICT_UNAVAILABLE, changes nothing, and the process goes on', async () => {
        const m = marker('uring');
        const [[rings, thrown, message, strict, active], answer] = await fresh(`${uringProbe(true)}
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, ${JSON.stringify(m)}));`, { env: { UV_USE_IO_URING: '1' } });
        assert.equal(rings, true, 'libuv made io_uring instances (the precondition of this test)');
        assert.equal(thrown, 'ERR_TETHERED_STRICT_UNAVAILABLE');
        assert.match(message, /already uses io_uring.*tethered run --strict.*nothing was changed/);
        assert.deepEqual([strict, active], [false, false], 'no filter, no policy');
        // nothing changed: the raw connect the filter would have refused reaches the peer
        assert.equal(answer, `ok pong:${m}`);
        assert.ok(s.peer.lines.includes(m));
    });

    for (const sqpoll of [false, true]) {
        test(`a ring made before activate() by a thread with a descriptor table of its own and never mapped${sqpoll ? ', polled by a kernel thread (SQPOLL)' : ''}: the process's own fd table and maps show nothing, activate({ strict: true }) still finds it and refuses`, async () => {
            const m = marker('hidden-ring');
            const [[hidden, seen, thrown, message, strict], answer] = await fresh(`
                const fs = require('node:fs');
                const hider = require(${JSON.stringify(hiderAddon())});
                const hidden = hider.hide(${sqpoll});
                // what a look at the calling thread's table and the mappings alone would see
                const seen = fs.readdirSync('/proc/self/fd').filter((f) => { try { return fs.readlinkSync('/proc/self/fd/' + f) === 'anon_inode:[io_uring]'; } catch { return false; } }).length
                    + fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter((l) => l.includes('io_uring')).length;
                let thrown = null, message = '';
                try { t.activate({ allow: ['127.0.0.3'], allowLocalhost: false, strict: true }); } catch (e) { thrown = e.code; message = e.message; }
                print([hidden, seen, thrown, message, t.status().strict]);
                print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, ${JSON.stringify(m)}));`, { env: { UV_USE_IO_URING: '0' } });
            assert.equal(hidden, 0, 'the addon made its ring');
            assert.equal(seen, 0, 'nothing of it in the fd table of the calling thread or in the maps (else this test shows nothing new)');
            assert.equal(thrown, 'ERR_TETHERED_STRICT_UNAVAILABLE');
            assert.match(message, /already uses io_uring/);
            assert.equal(strict, false);
            // nothing changed (no filter): the raw connect reaches the peer, as without tethered
            assert.equal(answer, `ok pong:${m}`);
        });
    }

    test('control: the same process without io_uring instances (UV_USE_IO_URING=0) starts strict mode, and the raw connect is blocked', async () => {
        const m = marker('uring-control');
        const [[rings, thrown, , strict, active], answer] = await fresh(`${uringProbe(true)}
            print(addon.rawRoundTrip('127.0.0.2', ${s.peer.port}, ${JSON.stringify(m)}));`, { env: { UV_USE_IO_URING: '0' } });
        if (rings) {
            // Node.js 22 and later keep rings whatever UV_USE_IO_URING says: there the refusal is the answer
            assert.equal(thrown, 'ERR_TETHERED_STRICT_UNAVAILABLE');
            return;
        }
        assert.deepEqual([thrown, strict, active], [null, true, true]);
        assert.equal(answer, `error ${EACCES}`);
        assert.ok(!s.peer.lines.includes(m), 'the marker reached the peer');
    });
});

describe("activate({ children: 'strict' }): every child under its own supervisor, whatever its environment", { skip }, () => {
    const s = serve({ peer: () => tcpServer('127.0.0.2') });
    const base = { allow: ['127.0.0.3'], allowLocalhost: false };

    test("control: with children: 'inherit' a static child spawned with env: {} reaches the peer (the libc layer cannot follow it)", async () => {
        const m = marker('inherit');
        const [out] = await fresh(`
            t.activate(${JSON.stringify(base)});
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m}'], {}).out);`);
        assert.equal(out, `ok pong:${m}`);
        assert.ok(s.peer.lines.includes(m));
    });

    test('a static raw-syscall child with an empty environment, or with a looser policy and LD_PRELOAD of its own, is blocked with one strict event', async () => {
        const [m1, m2] = [marker('strict-child'), marker('strict-loose')];
        const [empty, loose, status] = await fresh(`
            t.activate({ ...${JSON.stringify(base)}, children: 'strict' });
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m1}'], {}));
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m2}'], { TETHERED_ALLOW: '127.0.0.2', TETHERED_MODE: 'log', LD_PRELOAD: '/nonexistent.so' }));
            print(t.status());`);
        for (const r of [empty, loose]) {
            assert.equal(r.out, 'error EACCES', r.stderr);
            assert.equal(r.events.length, 1, r.stderr);
            assert.deepEqual([r.events[0].decision, r.events[0].layer, r.events[0].ip, r.events[0].port], ['block', 'strict', '127.0.0.2', s.peer.port]);
        }
        assert.ok(!s.peer.lines.includes(m1) && !s.peer.lines.includes(m2));
        assert.equal(status.children, 'strict');
        assert.equal(status.strict, false);
    });

    test('log-only: the child reaches the peer and is reported once', async () => {
        const m = marker('strict-log');
        const [r] = await fresh(`
            t.activate({ ...${JSON.stringify(base)}, logOnly: true, children: 'strict' });
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m}'], {}));`);
        assert.equal(r.out, `ok pong:${m}`, r.stderr);
        assert.deepEqual(r.events.map((e) => e.decision), ['would-block']);
    });

    test('allowed by an address rule: data round-trips, no event', async () => {
        const m = marker('strict-ok');
        const [r] = await fresh(`
            t.activate({ allow: ['127.0.0.2:${s.peer.port}'], allowLocalhost: false, children: 'strict' });
            print(childRun(['raw', '127.0.0.2', '${s.peer.port}', '${m}'], {}));`);
        assert.equal(r.out, `ok pong:${m}`, r.stderr);
        assert.deepEqual(r.events, []);
    });

    test('grandchildren three fork+exec generations down, and a child started through a shell, are covered', async () => {
        const [m1, m2] = [marker('strict-chain'), marker('strict-shell')];
        const [chain, shell] = await fresh(`
            t.activate({ ...${JSON.stringify(base)}, children: 'strict' });
            print(childRun(['chain', '3', '127.0.0.2', '${s.peer.port}', '${m1}'], {}).out);
            print(cp.execSync(probe + ' raw 127.0.0.2 ${s.peer.port} ${m2}', { env: {}, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());`);
        assert.equal(chain, 'error EACCES');
        assert.equal(shell, 'error EACCES');
        assert.ok(!s.peer.lines.includes(m1) && !s.peer.lines.includes(m2));
    });

    test("a native addon's popen() (libc starts the shell itself) is covered: the static program it runs is blocked; under children: 'inherit' it reaches the peer", async () => {
        const [m1, m2] = [marker('popen-inherit'), marker('popen-strict')];
        const command = (m) => `${strictProbe()} raw 127.0.0.2 ${s.peer.port} ${m} 2>/dev/null`;
        const [inherit] = await fresh(`
            t.activate(${JSON.stringify(base)});
            print(addon.popenRead(${JSON.stringify(command(m1))}));`);
        assert.equal(inherit, `ok pong:${m1}`);
        assert.ok(s.peer.lines.includes(m1));
        const [strict] = await fresh(`
            t.activate({ ...${JSON.stringify(base)}, children: 'strict' });
            print(addon.popenRead(${JSON.stringify(command(m2))}));`);
        assert.equal(strict, 'error EACCES');
        assert.ok(!s.peer.lines.includes(m2));
    });

    test('spawning a program that does not exist still fails with ENOENT; exit codes and a kill() signal come through', async () => {
        const [missing, code, signal] = await fresh(`
            t.activate({ ...${JSON.stringify(base)}, children: 'strict' });
            print(await new Promise((r) => cp.spawn('no-such-program-here', []).on('error', (e) => r(e.code))));
            print(cp.spawnSync('/bin/sh', ['-c', 'exit 7']).status);
            const c = cp.spawn('sleep', ['10']);
            setTimeout(() => c.kill(), 200);
            print(await new Promise((r) => c.on('exit', (code, sig) => r(sig))));`);
        assert.equal(missing, 'ENOENT');
        assert.equal(code, 7);
        assert.equal(signal, 'SIGTERM');
    });
});
