// The linux-arm64 prebuilt binaries (cross-built by scripts/prebuild.mjs with Debian's aarch64 toolchain),
// run on this x64 machine under qemu-user: the matcher's answers on the shared vectors, and the shipped
// libtethered.so preloaded into an arm64 program blocking and allowing real connects. qemu-user hands the
// guest's system calls to this kernel, so the test namespace holds for them as for any other program.
// Needs gcc-aarch64-linux-gnu and qemu-user (`bash scripts/system-deps.sh --prebuilds`); skipped without
// them, except in CI, where it fails.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
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

    describe("tethered-strict's seccomp filter, built for arm64 (qemu-user has no seccomp: the program is run by a BPF interpreter, test/native/c/filtercheck.c)", () => {
        // System-call numbers from the kernel's tables (asm-generic/unistd.h for arm64, syscall_64.tbl for
        // x86-64), written here rather than taken from the build's headers: the check is that the filter
        // compiled for each architecture uses that architecture's numbers.
        const ARCH = { aarch64: 0xc00000b7, arm: 0x40000028, x86_64: 0xc000003e, i386: 0x40000003 };
        const NR = {
            aarch64: { socket: 198, connect: 203, sendto: 206, setsockopt: 208, sendmsg: 211, sendmmsg: 269, seccomp: 277, io_uring_setup: 425, getpid: 172, write: 64 },
            x86_64: { socket: 41, connect: 42, sendto: 44, setsockopt: 54, sendmsg: 46, sendmmsg: 307, seccomp: 317, io_uring_setup: 425, getpid: 39, write: 1 },
        };
        const ENOSYS = 'errno 38';
        const EACCES = 'errno 13';

        /** [what, arch, nr, args, the kernel action] for a filter built for `own` (the other 64-bit table is `other`). */
        function cases(own, other, compat, compatConnect) {
            const nr = NR[own];
            return [
                ['connect', ARCH[own], nr.connect, [3, 0x1000, 16], 'notify'],
                ['sendmsg', ARCH[own], nr.sendmsg, [3, 0x1000, 0], 'notify'],
                ['sendmmsg', ARCH[own], nr.sendmmsg, [3, 0x1000, 2, 0], 'notify'],
                ['sendto with an address', ARCH[own], nr.sendto, [3, 0x1000, 5, 0, 0x2000, 16], 'notify'],
                ['sendto with an address above 4 GiB', ARCH[own], nr.sendto, [3, 0x1000, 5, 0, 0x100000000, 16], 'notify'],
                ['sendto without an address (a connected socket)', ARCH[own], nr.sendto, [3, 0x1000, 5, 0, 0, 0], 'allow'],
                ['setsockopt(IPPROTO_IP, IP_OPTIONS)', ARCH[own], nr.setsockopt, [3, 0, 4, 0x1000, 8], 'notify'],
                ['setsockopt(IPPROTO_IPV6, IPV6_RTHDR)', ARCH[own], nr.setsockopt, [3, 41, 57, 0x1000, 24], 'notify'],
                ['setsockopt(IPPROTO_IPV6, IPV6_2292PKTOPTIONS)', ARCH[own], nr.setsockopt, [3, 41, 6, 0x1000, 24], 'notify'],
                ['setsockopt(IPPROTO_IP, IP_TOS)', ARCH[own], nr.setsockopt, [3, 0, 1, 0x1000, 4], 'allow'],
                ['setsockopt(SOL_SOCKET, SO_REUSEADDR)', ARCH[own], nr.setsockopt, [3, 1, 2, 0x1000, 4], 'allow'],
                ['socket(AF_PACKET)', ARCH[own], nr.socket, [17, 3, 0], EACCES],
                ['socket(AF_INET, SOCK_RAW, IPPROTO_RAW)', ARCH[own], nr.socket, [2, 3, 255], EACCES],
                ['socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP)', ARCH[own], nr.socket, [2, 1, 132], EACCES],
                ['socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)', ARCH[own], nr.socket, [2, 0x80001, 0], 'allow'],
                ['io_uring_setup', ARCH[own], nr.io_uring_setup, [8, 0x1000], ENOSYS],
                ['seccomp with a new listener', ARCH[own], nr.seccomp, [1, 8, 0x1000], 'errno 1'],
                ['seccomp without one', ARCH[own], nr.seccomp, [1, 0, 0x1000], 'allow'],
                ['getpid', ARCH[own], nr.getpid, [], 'allow'],
                ['write', ARCH[own], nr.write, [1, 0x1000, 5], 'allow'],
                [`a connect through the ${compat} (compat) table`, ARCH[compat], compatConnect, [3, 0x1000, 16], ENOSYS],
                [`any call through the ${compat} (compat) table`, ARCH[compat], 20, [], ENOSYS],
                [`a connect numbered for the ${other} table`, ARCH[other], NR[other].connect, [3, 0x1000, 16], ENOSYS],
            ];
        }

        function check(program, run, own, other, compat, compatConnect) {
            const table = cases(own, other, compat, compatConnect);
            const input = table.map(([, arch, nr, args]) => [arch, nr, ...args].join(' ')).join('\n');
            const r = run(program, input);
            assert.equal(r.status, 0, r.stderr);
            const [first, code, ...answers] = r.stdout.trimEnd().split('\n');
            assert.equal(first, `arch 0x${ARCH[own].toString(16).padStart(8, '0')}`, 'the architecture the filter admits');
            table.forEach(([what], i) => assert.equal(answers[i], table[i][4], `${own}: ${what}`));
            return Buffer.from(code.replace(/^code /, ''), 'hex');
        }

        test('admits only AUDIT_ARCH_AARCH64 with the arm64 numbers: connect/sendmsg/sendmmsg/sendto-with-address and the source-routing setsockopts go to the supervisor, raw/packet/SCTP sockets EACCES, io_uring ENOSYS, arm32 compat tasks and x86-64 numbers ENOSYS', () => {
            const program = crossBuild('filtercheck', [join(root, 'test/native/c/filtercheck.c')]);
            assert.match(spawnSync('readelf', ['-h', program], { encoding: 'utf8' }).stdout, /Machine:\s+AArch64/);
            const code = check(program, (p, input) => spawnSync(QEMU, ['-L', SYSROOT, p], { input, encoding: 'utf8' }), 'aarch64', 'x86_64', 'arm', 283);
            // the program checked is the one the shipped supervisor carries, byte for byte
            assert.ok(code.length >= 40 * 8, `${code.length} bytes`);
            assert.ok(readFileSync(join(prebuilt(), 'tethered-strict')).includes(code), 'the arm64 tethered-strict does not carry this filter');
        });

        test('the same checker built for x86-64 gives the x86-64 answers, where the kernel tests run the real filter (the interpreter agrees with them); int 0x80 is ENOSYS, x32 numbers too', () => {
            mkdirSync(outDir, { recursive: true });
            const program = join(outDir, 'filtercheck-x64');
            const b = spawnSync('gcc', ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', `-I${join(root, 'native', 'shim')}`, '-o', program, join(root, 'test/native/c/filtercheck.c')], { encoding: 'utf8' });
            assert.equal(b.status, 0, b.stderr);
            const run = (p, input) => spawnSync(p, [], { input, encoding: 'utf8' });
            const code = check(program, run, 'x86_64', 'aarch64', 'i386', 362);
            assert.ok(readFileSync(join(root, 'build', 'Release', 'tethered-strict')).includes(code), 'the x64 tethered-strict does not carry this filter');
            const x32 = run(program, `${ARCH.x86_64} ${0x40000000 + NR.x86_64.connect} 3 4096 16`);
            assert.equal(x32.stdout.trimEnd().split('\n')[2], ENOSYS, 'an x32 connect');
        });
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
