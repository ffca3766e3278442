// The linux-arm64 prebuilt binaries (cross-built by scripts/prebuild.mjs with Debian's aarch64 toolchain),
// run on this x64 machine under qemu-user: the matcher's answers on the shared vectors, and the shipped
// libtethered.so preloaded into an arm64 program blocking and allowing real connects. qemu-user hands the
// guest's system calls to this kernel, so the test namespace holds for them as for any other program.
// Needs gcc-aarch64-linux-gnu and qemu-user (`bash scripts/system-deps.sh --prebuilds`); skipped without
// them, except in CI, where it fails.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { aboveBaseline, dynamicNeeds } from '../../scripts/glibc-baseline.mjs';
import { matcherSources, root } from '../helpers/cbuild.mjs';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { runUnderShim, tcpServer } from '../helpers/shim.mjs';
import { caseTitle, vectors } from '../helpers/vectors.mjs';

const CC = 'aarch64-linux-gnu-gcc';
const QEMU = 'qemu-aarch64';
const SYSROOT = '/usr/aarch64-linux-gnu';
const dir = join(root, 'prebuilds', 'linux-arm64');
const outDir = join(root, 'build', 'test-arm64');

const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const missing = [CC, QEMU].filter((c) => !have(c));
if (missing.length && process.env.CI) throw new Error(`CI needs ${missing.join(', ')}: bash scripts/system-deps.sh --prebuilds`);
const skip = missing.length ? `needs ${missing.join(' and ')} (bash scripts/system-deps.sh --prebuilds)` : false;

function newest(path) {
    const s = statSync(path);
    if (!s.isDirectory()) return s.mtimeMs;
    return Math.max(s.mtimeMs, ...readdirSync(path).map((e) => newest(join(path, e))));
}

/** prebuilds/linux-arm64 as npm pack would ship it, rebuilt when a native source is newer. */
function prebuilt() {
    const shim = join(dir, 'libtethered.so');
    if (!existsSync(shim) || statSync(shim).mtimeMs < Math.max(newest(join(root, 'native')), newest(join(root, 'binding.gyp')))) {
        const r = spawnSync(process.execPath, [join(root, 'scripts', 'prebuild.mjs'), 'arm64'], { encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
    }
    return dir;
}

/** Cross-compiles a test program from `sources` (same flags as test/helpers/cbuild.mjs) into build/test-arm64/. */
function crossBuild(name, sources, libs = [], defines = []) {
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, name);
    const args = ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', '-pthread', `-I${join(root, 'native', 'shim')}`];
    const r = spawnSync(CC, [...args, ...defines, '-o', out, ...sources, ...libs, '-ldl'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    return out;
}

const hex = (s) => `x${Buffer.from(s, 'utf8').toString('hex')}`;
const unhex = (h) => (h === '-' ? null : Buffer.from(h, 'hex').toString('utf8'));

describe('linux-arm64 prebuilds under qemu-user', { skip }, () => {
    test('are aarch64 binaries with no symbol version above glibc 2.28; tethered-strict is static', () => {
        const d = prebuilt();
        const addon = readdirSync(d).find((f) => f.endsWith('.node'));
        assert.ok(addon, `no addon in ${d}`);
        for (const f of [addon, 'libtethered.so', 'tethered-strict']) {
            const header = spawnSync('readelf', ['-h', join(d, f)], { encoding: 'utf8' }).stdout;
            assert.match(header, /Machine:\s+AArch64/, f);
            assert.deepEqual(aboveBaseline(join(d, f)), [], f);
        }
        assert.deepEqual(dynamicNeeds(join(d, 'tethered-strict')).needed, []);
    });

    test('the matcher, cross-built, gives the vectors\' decisions and reasons, and rejects the invalid rules', () => {
        const lines = [];
        const checks = [];
        for (const group of vectors.groups) {
            const deny = group.deny ?? [];
            lines.push(`P ${group.allowLocalhost === false ? 0 : 1} ${group.allow.length} ${group.allow.map(hex).join(' ')} ${deny.length} ${deny.map(hex).join(' ')}`.replace(/ +/g, ' '));
            checks.push({ kind: 'compile', title: group.name });
            for (const c of group.cases) {
                const port = c.port === null ? '-' : String(c.port);
                lines.push(c.host !== undefined ? `H ${hex(c.host)} ${port}` : `C ${hex(c.ip)} ${port} ${c.names.length} ${c.names.map(hex).join(' ')}`.trimEnd());
                checks.push({ kind: 'decision', title: `${group.name}: ${caseTitle(c)}`, c });
            }
        }
        for (const c of vectors.normal) {
            lines.push(`R ${hex(c.rule)}`);
            checks.push({ kind: 'normal', title: c.rule, c });
        }
        for (const c of vectors.invalid) {
            lines.push(`R ${hex(c.rule)}`);
            checks.push({ kind: 'invalid', title: c.rule, c });
        }
        const driver = crossBuild('policy-driver', [...matcherSources(), join(root, 'test/native/c/policy_driver.c')]);
        assert.match(spawnSync('readelf', ['-h', driver], { encoding: 'utf8' }).stdout, /Machine:\s+AArch64/);
        const r = spawnSync(QEMU, ['-L', SYSROOT, driver], { input: `${lines.join('\n')}\n`, encoding: 'utf8', maxBuffer: 64 << 20 });
        assert.equal(r.status, 0, r.stderr);
        const answers = r.stdout.split('\n');
        checks.forEach((check, i) => {
            const answer = answers[i] ?? '';
            const [a, b, c] = answer.split(' ');
            if (check.kind === 'compile') assert.equal(answer, 'ok', check.title);
            if (check.kind === 'decision') {
                assert.equal(a === '1', check.c.allowed, `${check.title}: ${answer}`);
                if (check.c.reason) assert.equal(b, check.c.reason, check.title);
                if (check.c.rule) assert.equal(unhex(c), check.c.rule, check.title);
            }
            if (check.kind === 'normal') assert.deepEqual([a, b, unhex(c ?? '-')], ['ok', check.c.kind, check.c.text], check.title);
            if (check.kind === 'invalid') assert.equal(a, 'error', `${check.title}: accepted as ${unhex(c ?? '-')}`);
        });
        assert.ok(checks.filter((c) => c.kind === 'decision').length >= 300);
    });

    test('tethered-strict starts, and refuses to run a command where seccomp user notification is missing (qemu-user has none)', () => {
        const strict = join(prebuilt(), 'tethered-strict');
        const usage = spawnSync(QEMU, [strict], { encoding: 'utf8' });
        assert.match(usage.stderr, /usage: tethered-strict/);
        // qemu-user does not emulate seccomp(): strict mode fails closed, the command never runs
        const r = spawnSync(QEMU, [strict, '--', '/bin/echo', 'ran'], { encoding: 'utf8', env: { ...process.env, TETHERED_ALLOW: 'example.test' } });
        assert.notEqual(r.status, 0);
        assert.doesNotMatch(r.stdout, /ran/);
        assert.match(r.stderr, /strict mode is unavailable here: this system refuses a seccomp filter/);
    });

    describe('libtethered.so preloaded into an arm64 program', { skip: NEEDS_NETNS }, () => {
        let server;
        let probe;
        before(async () => {
            server = await tcpServer('127.0.0.2');
            // aarch64 has no dup2 system call; netprobe's syscall-dup2 mode (not run here) gets a number to compile
            probe = crossBuild('netprobe', [join(root, 'test/native/c/netprobe.c')], ['-lresolv', '-lanl'], ['-DSYS_dup2=SYS_dup3']);
        });
        after(() => server.close());

        /** netprobe under qemu, with the arm64 shim preloaded into the guest (not into qemu itself). */
        const underQemu = (args, env, { preload = true } = {}) =>
            runUnderShim(QEMU, ['-L', SYSROOT, ...(preload ? ['-E', `LD_PRELOAD=${join(prebuilt(), 'libtethered.so')}`] : []), probe, ...args], { TETHERED_ALLOW_LOCALHOST: '0', ...env }, { preload: false });

        for (const [what, args, rule] of [
            ['an IPv4 literal', () => ['connect-ip', '127.0.0.2', String(server.port)], () => `127.0.0.2:${server.port}`],
            ['a name (getaddrinfo + connect)', () => ['connect', 'api.example.test', String(server.port)], () => `api.example.test:${server.port}`],
        ]) {
            test(`a connect to ${what} outside the allow list is refused with EACCES, never reaches the peer, and is reported once`, async () => {
                const before = server.connections;
                const r = await underQemu(args(), { TETHERED_ALLOW: 'other.example.test' });
                assert.match(r.stdout, /^(error EACCES|gai EAI_FAIL)$/, r.stderr);
                assert.equal(server.connections, before, 'no connection reached the server');
                assert.equal(r.events.length, 1, JSON.stringify(r.events));
                assert.equal(r.events[0].decision, 'block');
                assert.equal(r.events[0].reason, 'no-rule');
            });

            test(`the same connect to ${what} reaches the peer without the shim (positive control)`, async () => {
                const before = server.connections;
                const r = await underQemu(args(), { TETHERED_ALLOW: 'other.example.test' }, { preload: false });
                assert.equal(r.stdout, 'ok pong:ping', r.stderr);
                assert.equal(server.connections, before + 1);
            });

            test(`a connect to ${what} allowed by a rule goes through and data round-trips`, async () => {
                const before = server.connections;
                const r = await underQemu(args(), { TETHERED_ALLOW: rule() });
                assert.equal(r.stdout, 'ok pong:ping', r.stderr);
                assert.equal(server.connections, before + 1);
                assert.deepEqual(r.events, []);
            });
        }
    });
});
