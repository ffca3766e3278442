// The programs the strict-mode tests run: the supervisor, a static C probe (raw system calls, int 0x80,
// io_uring, threads) and a pure-Go dialler, each built once into build/test/.
import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { buildC, root } from '../helpers/cbuild.mjs';
import { runUnderShim } from '../helpers/shim.mjs';

export const strictBinary = join(root, 'build', 'Release', 'tethered-strict');

/** test/strict/c/strictprobe.c, linked statically (no shim can be preloaded into it). */
export function strictProbe() {
    return buildC('strictprobe', [join(root, 'test/strict/c/strictprobe.c')], { libs: ['-static', '-luring'] });
}

/** test/strict/c/resolveprobe.c, linked statically: glibc's own resolver (getaddrinfo), no shim. */
export function resolveProbe() {
    return buildC('resolveprobe', [join(root, 'test/strict/c/resolveprobe.c')], { libs: ['-static'] });
}

/** The same probe linked statically against musl (musl-gcc): musl's resolver sends with sendto() to each
 * name server and takes only replies from their addresses. null when musl-gcc is missing. */
export function resolveProbeMusl() {
    const src = join(root, 'test/strict/c/resolveprobe.c');
    const out = join(root, 'build/test/resolveprobe-musl');
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
    try {
        execFileSync('musl-gcc', ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', '-O1', '-static', '-o', out, src], { stdio: ['ignore', 'inherit', 'inherit'] });
    } catch {
        return null;
    }
    return out;
}

/** test/strict/go/dial.go, built with CGO_ENABLED=0: Go's own system calls, no libc. */
export function goDial() {
    const src = join(root, 'test/strict/go/dial.go');
    const out = join(root, 'build/test/godial');
    if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
    execFileSync('go', ['build', '-o', out, src], {
        cwd: join(root, 'test/strict/go'),
        stdio: ['ignore', 'inherit', 'inherit'],
        env: { ...process.env, CGO_ENABLED: '0', GO111MODULE: 'off', GOCACHE: join(root, 'build/test/gocache'), GOPATH: join(root, 'build/test/gopath') },
    });
    return out;
}

/** Runs `cmd args` under tethered-strict with `env` (TETHERED_* settings); { code, stdout, stderr, events }. */
export function runStrict(cmd, args, env = {}, options = {}) {
    return runUnderShim(strictBinary, ['--', cmd, ...args], env, { preload: false, ...options });
}

/** The same program without tethered: the positive control. */
export function runPlain(cmd, args, env = {}) {
    return runUnderShim(cmd, args, env, { preload: false });
}
