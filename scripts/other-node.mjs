#!/usr/bin/env node
// Another Node.js for the suite and the benchmarks, from the npm registry (the node-linux-<arch> package
// carries the official binary), kept under node_modules/.cache: the machines run Node 20, users mostly
// Node 22 and 24, whose libuv and AsyncLocalStorage differ where tethered works (io_uring, scopes).
//
//   node scripts/other-node.mjs [MAJOR]      prints the path of that Node's bin/ folder (default 24)
//
// The version is pinned, and the tarball is checked against the integrity recorded here (not only the
// registry's own): the package is a repackaging of the official binary by a third party.
//   node scripts/other-node.mjs --files      prints the test files the other Node runs (see NOT_THERE)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root, testFiles } from './test-files.mjs';

// Test files whose subject is not there on Node 22 and later, each with the reason:
const NOT_THERE = {
    // the suite's pg-native build (libpq's addon, a devDependency) is compiled for the machine's Node ABI
    'test/drivers/postgres.test.mjs': 'pg-native is built for the machine Node',
    // cross-builds through npm's node-gyp, which the registry's Node package does not carry
    'test/native/arm64.test.mjs': 'needs npm beside node',
    // activate({ strict: true }) in a process that already holds io_uring instances (libuv's, on Node 22+)
    // refuses to start: the refusal is tested on that Node by the io_uring tests of activate.test.mjs,
    // which .ci/run runs by name
    'test/strict/activate.test.mjs': 'in-process strict mode refuses under libuv io_uring',
    'test/strict/activate-names.test.mjs': 'in-process strict mode refuses under libuv io_uring',
    'test/strict/setuid.test.mjs': 'its activate({ strict: true }) cases: in-process strict mode refuses under libuv io_uring',
};

if (process.argv.includes('--files')) {
    console.log(testFiles().filter((f) => !(f in NOT_THERE)).join('\n'));
    process.exit(0);
}

const PINNED = {
    // Node 22 (maintenance LTS): its AsyncLocalStorage rests on async hooks unless started with
    // --experimental-async-context-frame; the benchmarks measure scope() there both ways
    22: {
        version: '22.23.3',
        x64: 'sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng==',
        arm64: 'sha512-l3DAHZreylo+p9QXDtsOrjG2JXJqVzYXnAGmIQNOUNARcMppTO2cmewVQP+36tjJnSE+dzpMNtgW+c3oiDvXtA==',
    },
    24: {
        version: '24.21.0',
        x64: 'sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==',
        arm64: 'sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==',
    },
};
const major = process.argv[2] ?? '24';
const pinned = PINNED[major];
if (!pinned) throw new Error(`usage: other-node.mjs [${Object.keys(PINNED).join('|')}] | --files`);
const arch = { x64: 'x64', arm64: 'arm64' }[process.arch];
if (!arch || process.platform !== 'linux') throw new Error(`no node-linux package for ${process.platform}-${process.arch}`);
const dir = join(root, 'node_modules', '.cache', 'tethered', `node-${major}`);
const bin = join(dir, 'package', 'bin');
const works = () => {
    try {
        return execFileSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).trim() === `v${pinned.version}`;
    } catch {
        return false;
    }
};
if (!works()) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const tarball = execFileSync('npm', ['pack', `node-linux-${arch}@${pinned.version}`, '--pack-destination', dir, '--silent'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
    const integrity = `sha512-${createHash('sha512').update(readFileSync(join(dir, tarball))).digest('base64')}`;
    if (integrity !== pinned[arch]) throw new Error(`node-linux-${arch}@${pinned.version}: integrity ${integrity}, expected ${pinned[arch]}`);
    execFileSync('tar', ['xzf', join(dir, tarball), '-C', dir]);
    rmSync(join(dir, tarball));
    if (!existsSync(join(bin, 'node')) || !works()) throw new Error(`node-linux-${arch}@${major} did not give a working node`);
}
console.log(bin);
