#!/usr/bin/env node
// The test runner: runs Node's test runner inside a private network namespace, so that no test can reach
// anything but loopback even when the library under test fails to block it.
//
//   node scripts/test.mjs [FILE|DIR]… [--node-test-flag]…   run the suite (default: everything under test/)
//   node scripts/test.mjs --shell [CMD…]                     a shell (or CMD) inside the same namespace
//
// The namespace (`unshare --user --map-root-user --mount --net`) has only `lo`, brought up here; a test
// /etc/hosts (test/fixtures/hosts plus this machine's hostname) and an /etc/resolv.conf that points at
// loopback are bind-mounted over the real ones. Tests read TETHERED_NETNS: '1' inside, '0' when the machine
// could not make a namespace, in which case every test that opens a socket is skipped and says so. CI
// (CI=true) refuses to run without the namespace.
import { spawnSync } from 'node:child_process';
import { testFiles } from './test-files.mjs';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);

function say(line) {
    process.stderr.write(`tethered tests: ${line}\n`);
}

function run(cmd, args, options = {}) {
    const result = spawnSync(cmd, args, { stdio: 'inherit', ...options });
    if (result.error) throw result.error;
    return result.status ?? 128 + 1;
}

function runTests() {
    const flags = argv.filter((a) => a.startsWith('--'));
    const files = testFiles(argv.filter((a) => !a.startsWith('--')));
    if (files.length === 0) {
        say('no test files found');
        return 1;
    }
    // One file at a time: several suites bind the test resolver's fixed address (127.0.0.53:53).
    return run(process.execPath, ['--test', '--test-concurrency=1', ...flags, ...files], { cwd: root });
}

/** Inside the new namespaces: loopback up, test hosts and resolver in place, then run. */
function setUpNamespace() {
    const ip = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
    if (run(ip, ['link', 'set', 'lo', 'up']) !== 0) throw new Error("could not bring up loopback ('ip link set lo up')");
    const dir = mkdtempSync(join(tmpdir(), 'tethered-netns-'));
    const hostsFile = join(dir, 'hosts');
    const hosts = readFileSync(join(root, 'test', 'fixtures', 'hosts'), 'utf8');
    // The machine's own name resolves locally, as on any sane host (and SPEC exempts it from the policy).
    writeFileSync(hostsFile, `${hosts}\n127.0.1.1\t${hostname()}\n`);
    const resolvFile = join(dir, 'resolv.conf');
    // A resolver on loopback that nobody runs (tests that need DNS start their own on 127.0.0.53:53):
    // a lookup of an unknown name fails at once instead of waiting for a timeout.
    writeFileSync(resolvFile, 'nameserver 127.0.0.53\noptions timeout:1 attempts:1\n');
    for (const [file, target] of [
        [hostsFile, '/etc/hosts'],
        [resolvFile, '/etc/resolv.conf'],
    ]) {
        if (run('mount', ['--bind', file, target]) !== 0) throw new Error(`could not bind-mount ${target}`);
    }
    const interfaces = readFileSync('/proc/net/dev', 'utf8')
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0].trim())
        .filter(Boolean);
    if (interfaces.join(',') !== 'lo') throw new Error(`the namespace has interfaces other than lo: ${interfaces.join(', ')}`);
    process.env.TETHERED_NETNS = '1';
    process.env.TETHERED_TEST_HOSTS = hostsFile;
}

/**
 * A setuid program owned by another user, for the tests of programs the libc layer cannot follow: made here,
 * outside the namespace, where (as root) a file can be given to another owner. Inside the namespace that
 * owner is unmapped, so the kernel would not switch to it; the shim's check reads the same mode and owner
 * that make an exec secure-execution elsewhere. Not made (and those tests skipped) without root.
 */
function setuidFixture() {
    if (process.getuid?.() !== 0 || !existsSync('/bin/true')) return;
    const dir = mkdtempSync(join(tmpdir(), 'tethered-setuid-'));
    chmodSync(dir, 0o755);
    const made = (source, name) => {
        const file = join(dir, name);
        copyFileSync(source, file);
        chownSync(file, 65534, 65534);
        chmodSync(file, 0o4755);
        return file;
    };
    process.env.TEST_SETUID_PROGRAM = made('/bin/true', 'setuid-true');
    // a setuid client that makes real connections (BYPASSES S4 in strict mode)
    const curl = ['/usr/bin/curl', '/bin/curl'].find((p) => existsSync(p));
    if (curl) process.env.TEST_SETUID_CURL = made(curl, 'setuid-curl');
}

function main() {
    const shell = argv[0] === '--shell';
    if (process.env.TETHERED_NETNS_ENTERED === '1') {
        setUpNamespace();
        if (shell) {
            const cmd = argv.length > 1 ? argv.slice(1) : [process.env.SHELL || 'bash'];
            return run(cmd[0], cmd.slice(1), { cwd: root });
        }
        return runTests();
    }
    setuidFixture();
    const probe = spawnSync('unshare', ['--user', '--map-root-user', '--mount', '--net', 'true'], { encoding: 'utf8' });
    if (probe.status === 0) {
        return run('unshare', ['--user', '--map-root-user', '--mount', '--net', '--', process.execPath, self, ...argv], {
            env: { ...process.env, TETHERED_NETNS_ENTERED: '1' },
        });
    }
    const why = (probe.error?.message ?? probe.stderr ?? '').trim() || `exit ${probe.status}`;
    say(`cannot create a private network namespace (unshare: ${why}).`);
    if (process.env.CI) {
        say('CI must run every test inside the namespace: failing.');
        return 1;
    }
    if (shell) return 1;
    say('running WITHOUT network isolation: every test that opens a socket is SKIPPED (shown as skipped below).');
    process.env.TETHERED_NETNS = '0';
    return runTests();
}

process.exitCode = main();
