// Builds the small C programs the native tests run, into build/test/, again only when a source changed.
// Headers under native/shim and test/native/c (and hooks.def) count as sources for the staleness check.
// `sanitize: true` builds with AddressSanitizer and UndefinedBehaviorSanitizer (suffix -asan).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const shimDir = join(root, 'native', 'shim');
const outDir = join(root, 'build', 'test');

export const SANITIZE_FLAGS = ['-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', '-fno-omit-frame-pointer', '-g'];

/** The matcher's sources (no hooks): what a driver links to test the policy code alone. */
export function matcherSources() {
    return ['ip.c', 'name.c', 'idna.c', 'rule.c', 'policy.c', 'policy_image.c', 'sha256.c'].map((f) => join(shimDir, f));
}

function newest(paths) {
    return Math.max(...paths.map((p) => statSync(p).mtimeMs));
}

/**
 * Compiles `sources` into build/test/<name>[-asan]; returns the path. Headers (native/shim, test/native/c) count as
 * sources for the staleness check.
 */
export function buildC(name, sources, { sanitize = false, shared = false, libs = [], optimize = '-O1', includes = [], suffix } = {}) {
    mkdirSync(outDir, { recursive: true });
    const out = join(outDir, `${name}${sanitize ? '-asan' : ''}${suffix ?? (shared ? '.so' : '')}`);
    const probeDir = join(root, 'test', 'native', 'c');
    const headers = [shimDir, probeDir].flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.h') || f.endsWith('.def')).map((f) => join(dir, f)));
    if (existsSync(out) && statSync(out).mtimeMs >= newest([...sources, ...headers])) return out;
    const args = ['-std=c11', '-D_GNU_SOURCE', '-Wall', '-Wextra', '-Werror', optimize, '-pthread', `-I${shimDir}`, ...includes.map((i) => `-I${i}`)];
    if (sanitize) args.push(...SANITIZE_FLAGS);
    if (shared) args.push('-shared', '-fPIC', '-fvisibility=hidden');
    execFileSync('gcc', [...args, '-o', out, ...sources, ...libs, '-ldl'], { stdio: ['ignore', 'inherit', 'inherit'] });
    return out;
}
