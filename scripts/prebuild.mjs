#!/usr/bin/env node
// Builds the prebuilt binaries npm pack ships: prebuilds/linux-<arch>/ with the addon (tethered.node),
// libtethered.so and tethered-strict, all from the one binding.gyp, stripped.
//
//   node scripts/prebuild.mjs                 the machine's own architecture and, cross-built, the other one
//   node scripts/prebuild.mjs x64 arm64       the architectures named
//
// linux-arm64 on an x64 machine is cross-built with Debian's aarch64 toolchain (gcc-aarch64-linux-gnu,
// g++-aarch64-linux-gnu: `bash scripts/system-deps.sh --prebuilds`); x64 on an arm64 machine with the
// x86-64 one. Each architecture is built in a staging copy of the sources, so that build/Release, which the
// tests and a developer's checkout load first, keeps the machine's own build.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { arch as hostArch, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The GNU triplet of each architecture's toolchain, for a cross build. */
const TRIPLETS = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

function say(line) {
    process.stderr.write(`prebuild: ${line}\n`);
}

function run(cmd, args, options) {
    const r = spawnSync(cmd, args, { stdio: 'inherit', ...options });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status ?? r.signal}`);
}

/** npm's own node-gyp (npm puts it on PATH for scripts; `npx node-gyp` would fetch another). */
function nodeGyp() {
    if (process.env.npm_config_node_gyp) return process.env.npm_config_node_gyp;
    const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (existsSync(bundled)) return bundled;
    throw new Error("cannot find npm's node-gyp: run this through `npm run prebuildify`");
}

/**
 * Where node-gyp takes Node's headers: npm's nodedir setting, else the running Node's own include/node (the
 * N-API headers serve every Node version), else node-gyp downloads them.
 */
function nodeDir() {
    if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
    const prefix = join(dirname(process.execPath), '..');
    return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : undefined;
}

/** The compiler, linker and strip for `arch`, as environment variables node-gyp's Makefile reads. */
function toolchain(arch) {
    if (arch === hostArch()) return { env: {}, strip: 'strip' };
    const triplet = TRIPLETS[arch];
    if (!triplet) throw new Error(`no cross toolchain known for ${arch}`);
    const tool = (name) => `${triplet}-${name}`;
    const missing = ['gcc', 'g++', 'strip'].map(tool).filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
    if (missing.length) {
        throw new Error(`cross-building linux-${arch} needs ${missing.join(', ')}: bash scripts/system-deps.sh --prebuilds`);
    }
    const env = { CC: tool('gcc'), CXX: tool('g++'), LINK: tool('g++'), AR: tool('ar') };
    return { env, strip: tool('strip') };
}

function build(arch) {
    const stage = mkdtempSync(join(tmpdir(), `tethered-prebuild-${arch}-`));
    try {
        for (const entry of ['binding.gyp', 'package.json', 'native']) cpSync(join(root, entry), join(stage, entry), { recursive: true });
        // binding.gyp asks node-addon-api for its headers from the staging directory
        symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'));
        const out = join(root, 'prebuilds', `linux-${arch}`);
        rmSync(out, { recursive: true, force: true });
        const { env, strip } = toolchain(arch);
        say(`linux-${arch}${Object.keys(env).length ? ` (cross: ${env.CC})` : ''}`);
        // prebuildify builds, strips and names the addon, and copies the shared libraries (libtethered.so) beside it
        const prebuildify = join(root, 'node_modules', 'prebuildify', 'bin.js');
        run(process.execPath, [prebuildify, '--napi', '--strip', `--strip-bin=${strip}`, `--arch=${arch}`, `--node-gyp=${nodeGyp()}`, `--cwd=${stage}`, `--out=${root}`], {
            env: { ...process.env, ...env, JOBS: process.env.JOBS ?? '1', ...(nodeDir() ? { npm_config_nodedir: nodeDir() } : {}) },
        });
        // the strict-mode supervisor is an executable, which prebuildify leaves behind
        const strict = join(out, 'tethered-strict');
        copyFileSync(join(stage, 'build', 'Release', 'tethered-strict'), strict);
        run(strip, ['--strip-all', strict]);
        chmodSync(strict, 0o755);
        chmodSync(join(out, 'libtethered.so'), 0o755);
        const files = readdirSync(out).sort();
        for (const need of ['.node', 'libtethered.so', 'tethered-strict']) {
            if (!files.some((f) => f.endsWith(need))) throw new Error(`${out} lacks ${need} (has ${files.join(', ')})`);
        }
        say(`${out}: ${files.join(', ')}`);
    } finally {
        rmSync(stage, { recursive: true, force: true });
    }
}

const archs = process.argv.slice(2);
const wanted = archs.length ? archs : [hostArch(), ...Object.keys(TRIPLETS).filter((a) => a !== hostArch())];
mkdirSync(join(root, 'prebuilds'), { recursive: true });
try {
    for (const arch of wanted) build(arch);
} catch (e) {
    say(e.message);
    process.exitCode = 1;
}
