#!/usr/bin/env node
// The package as a user gets it: `npm pack`, then an install of the tarball into an empty project with
// install scripts off, no network (offline, an empty npm cache: only the tarball) and no compiler on PATH,
// then require, import, the types (tsc --strict) and `npx tethered run` blocking and allowing a connect
// inside the test namespace (loopback only).
//
//   node scripts/pack-check.mjs [TARBALL]     packs first (npm pack: both prebuilt platforms) unless given one
//
// CI runs it (.ci/run) after the prebuilt binaries are built. Exit 1 on the first failed check.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { aboveBaseline, highest, symbolVersions } from './glibc-baseline.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const self = fileURLToPath(import.meta.url);
const PLATFORMS = ['linux-x64', 'linux-arm64'];
const BINARIES = ['tethered.node', 'libtethered.so', 'tethered-strict'];
const COMPILERS = ['gcc', 'g++', 'cc', 'c++', 'clang', 'make', 'python3', 'python'];

function say(line) {
    process.stderr.write(`pack-check: ${line}\n`);
}

function check(ok, what, detail = '') {
    if (!ok) throw new Error(`FAILED: ${what}${detail ? `\n${detail}` : ''}`);
    say(`ok: ${what}`);
}

function sh(cmd, args, options = {}) {
    const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
    if (r.error) throw r.error;
    return r;
}

const kb = (n) => `${(n / 1024).toFixed(0)} KB`;

/** A directory of links to node, npm, npx and the basic tools, and nothing else: the PATH a user without a compiler has. */
function barePath(dir) {
    mkdirSync(dir, { recursive: true });
    const npmCli = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin');
    const links = { node: process.execPath, npm: join(npmCli, 'npm-cli.js'), npx: join(npmCli, 'npx-cli.js') };
    for (const tool of ['sh', 'bash', 'env', 'cat', 'ls', 'rm', 'mkdir', 'cp', 'mv', 'true', 'false', 'uname', 'id', 'sed', 'grep', 'dirname', 'basename', 'readlink']) {
        const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
        if (found) links[tool] = found;
    }
    for (const [name, target] of Object.entries(links)) {
        if (!existsSync(target)) throw new Error(`cannot link ${name}: ${target} is missing`);
        symlinkSync(target, join(dir, name));
    }
    return dir;
}

function pack() {
    const out = mkdtempSync(join(tmpdir(), 'tethered-pack-'));
    say('npm pack (prepack builds dist/ and the prebuilt binaries of both platforms)');
    const r = sh('npm', ['pack', '--json', '--pack-destination', out], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20 });
    if (r.status !== 0) throw new Error(`npm pack exited with ${r.status}`);
    const [info] = JSON.parse(r.stdout.slice(r.stdout.indexOf('[')));
    say(`tarball ${info.filename}: ${kb(info.size)} packed, ${kb(info.unpackedSize)} unpacked, ${info.entryCount} files`);
    return join(out, info.filename);
}

function checkTarball(tarball) {
    const entries = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean);
    for (const platform of PLATFORMS) {
        for (const bin of BINARIES) {
            const want = bin === 'tethered.node' ? new RegExp(`^package/prebuilds/${platform}/[^/]+\\.node$`) : new RegExp(`^package/prebuilds/${platform}/${bin.replace('.', '\\.')}$`);
            check(entries.some((e) => want.test(e)), `the tarball holds prebuilds/${platform}/${bin}`);
        }
    }
    check(!entries.some((e) => e.startsWith('package/build/')), 'the tarball holds no build/ directory (prebuilt binaries only)');
    const pkg = JSON.parse(execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    check(!pkg.scripts?.install && !pkg.scripts?.preinstall && !pkg.scripts?.postinstall && pkg.gypfile === false, 'the packed package.json has no install script and gypfile false (npm adds no node-gyp rebuild)');
    check(Object.keys(pkg.dependencies ?? {}).length === 0, 'the package has no runtime dependency');
}

function checkInstalled(project) {
    const pkgDir = join(project, 'node_modules', 'tethered');
    for (const platform of PLATFORMS) {
        const dir = join(pkgDir, 'prebuilds', platform);
        for (const file of readdirSync(dir).sort()) {
            const path = join(dir, file);
            const above = aboveBaseline(path);
            const top = Object.entries(highest(symbolVersions(path))).map(([f, v]) => `${f}_${v}`).join(' ') || 'static';
            check(above.length === 0, `prebuilds/${platform}/${file} (${kb(statSync(path).size)}): ${top}, nothing above glibc 2.28`, above.join(' '));
        }
    }
    check(!existsSync(join(pkgDir, 'build')), 'nothing was built at install (no build/ in the installed package)');
}

function writeTypeFiles(project) {
    writeFileSync(join(project, 'uses-api.ts'), [
        "import { activate, deactivate, status, shimPath, isEgressBlocked, parseRule, type ActivateOptions, type Status } from 'tethered';",
        "const options: ActivateOptions = { allow: ['api.example.test:443', '10.0.0.0/8'], logOnly: false };",
        'export function start(): Status {',
        '    activate(options);',
        '    const s: Status = status();',
        "    const mode: 'enforce' | 'log' | 'off' = s.mode;",
        '    void mode;',
        '    deactivate();',
        '    return s;',
        '}',
        'export const path: string = shimPath();',
        'export const blocked = (e: unknown): boolean => isEgressBlocked(e);',
        "export const rule = parseRule('*.example.test:443');",
        '',
    ].join('\n'));
    writeFileSync(join(project, 'uses-api.mts'), [
        "import { activate, type ActivateOptions } from 'tethered';",
        "const options: ActivateOptions = { allow: ['api.example.test:443'] };",
        'activate(options);',
        '',
    ].join('\n'));
    // A misuse the types must reject: if the declarations were missing or `any`, tsc would accept it.
    writeFileSync(join(project, 'misuses-api.ts'), "import { activate } from 'tethered';\nactivate({ allow: 443 });\n");
}

function tsc(project, env, files) {
    const bin = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--noEmit', '--strict', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', '--typeRoots', join(root, 'node_modules', '@types'), ...files];
    return sh(process.execPath, [bin, ...args], { cwd: project, env });
}

/** Inside the test namespace: `npx tethered run` against a loopback server, blocking and allowing. */
async function runChecks(project, env) {
    let connections = 0;
    const server = net.createServer((s) => {
        connections++;
        s.on('data', () => s.end('pong\n'));
        s.on('error', () => {});
    });
    server.listen(0, '127.0.0.2');
    await once(server, 'listening');
    const { port } = server.address();
    const client = `const s = require('net').connect(${port}, '127.0.0.2', () => s.write('ping\\n'));
s.on('data', (d) => { console.log('reply ' + d.toString().trim()); s.end(); });
s.on('error', (e) => { console.log('error ' + e.code); process.exitCode = 3; });`;
    const npx = (args) => spawnAsync('npx', ['--offline', '--no', ...args], { cwd: project, env });
    try {
        let before = connections;
        let r = await npx(['tethered', 'run', '--no-localhost', '--allow', '127.0.0.2:1', '--', 'node', '-e', client]);
        // A Node program under `tethered run` gets the register entry (NODE_OPTIONS): EgressBlocked, not a bare EACCES.
        check(r.stdout.includes('error ERR_EGRESS_BLOCKED') && /tethered: blocked tcp 127\.0\.0\.2:\d+ .* at \[eval\]/.test(r.stderr) && connections === before, 'npx tethered run --no-localhost --allow 127.0.0.2:1 blocks a connect to another port: EgressBlocked, the caller named, the server saw nothing', `${r.stdout}\n${r.stderr}`);
        before = connections;
        r = await spawnAsync('node', ['-e', client], { cwd: project, env });
        check(r.stdout.includes('reply pong') && connections === before + 1, 'the same client without tethered reaches the server (positive control)', `${r.stdout}\n${r.stderr}`);
        before = connections;
        r = await npx(['tethered', 'run', '--no-localhost', '--allow', `127.0.0.2:${port}`, '--', 'node', '-e', client]);
        check(r.code === 0 && r.stdout.includes('reply pong') && connections === before + 1, `npx tethered run --no-localhost --allow 127.0.0.2:${port} lets it through`, `${r.stdout}\n${r.stderr}`);
    } finally {
        server.close();
    }
}

/** Asynchronous, so that the server in this process answers while the child runs. */
function spawnAsync(cmd, args, options) {
    return new Promise((done) => {
        let stdout = '';
        let stderr = '';
        const child = spawn(cmd, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.on('close', (code) => done({ code, stdout, stderr }));
        child.on('error', (e) => done({ code: -1, stdout, stderr: String(e) }));
    });
}

async function main() {
    const argv = process.argv.slice(2);
    if (argv[0] === '--run-checks') {
        // re-entered inside the namespace by the outer run below
        const [, project, path] = argv;
        return runChecks(project, { ...process.env, PATH: path, npm_config_offline: 'true' });
    }
    const tarball = argv[0] ? resolve(argv[0]) : pack();
    say(`tarball ${basename(tarball)}: ${kb(statSync(tarball).size)}`);
    checkTarball(tarball);

    const work = mkdtempSync(join(tmpdir(), 'tethered-pack-check-'));
    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pack-check', version: '1.0.0', private: true }, null, 2));
    const path = barePath(join(work, 'bin'));
    const env = { HOME: work, PATH: path, npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', LANG: 'C.UTF-8' };
    const compilers = COMPILERS.filter((c) => sh('sh', ['-c', `command -v ${c}`], { env }).status === 0);
    check(compilers.length === 0, `no compiler on the install's PATH (${COMPILERS.join(', ')} all absent)`, compilers.join(' '));

    const install = sh('npm', ['install', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', tarball], { cwd: project, env });
    check(install.status === 0, 'npm install --ignore-scripts --offline <tarball> into an empty project, empty cache, no compiler', `${install.stdout}\n${install.stderr}`);
    check(!/install script|gyp|node-gyp/i.test(install.stdout + install.stderr), 'the install said nothing about install scripts or node-gyp', install.stderr);
    checkInstalled(project);

    const required = sh('node', ['-e', "const t = require('tethered'); console.log(typeof t.activate, t.shimPath())"], { cwd: project, env });
    check(required.status === 0 && required.stdout.startsWith('function ') && required.stdout.includes('/node_modules/tethered/prebuilds/linux-'), "require('tethered') loads, and the shim comes from the installed prebuilds", required.stdout + required.stderr);
    const imported = sh('node', ['--input-type=module', '-e', "const t = await import('tethered'); console.log(typeof t.activate, typeof t.default)"], { cwd: project, env });
    check(imported.status === 0 && imported.stdout.startsWith('function '), "import('tethered') loads", imported.stdout + imported.stderr);

    writeTypeFiles(project);
    const typed = tsc(project, env, ['uses-api.ts', 'uses-api.mts']);
    check(typed.status === 0, 'tsc --strict --noEmit accepts code using the API through the installed types (CommonJS and ES module)', typed.stdout + typed.stderr);
    const mistyped = tsc(project, env, ['misuses-api.ts']);
    check(mistyped.status !== 0 && /misuses-api\.ts.*TS2322|TS2322/.test(mistyped.stdout), 'tsc rejects a misuse of the API (the types are real, not any)', mistyped.stdout);

    say('npx tethered run, inside the test namespace (loopback only)');
    const inside = sh(process.execPath, [join(root, 'scripts', 'test.mjs'), '--shell', process.execPath, self, '--run-checks', project, path], { stdio: 'inherit' });
    check(inside.status === 0, 'npx tethered run blocks and allows inside the namespace');
    say(`all checks passed (tarball ${kb(statSync(tarball).size)})`);
}

main().catch((e) => {
    say(e.message);
    process.exitCode = 1;
});
