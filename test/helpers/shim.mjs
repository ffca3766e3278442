// Running real programs under libtethered.so, and the loopback peers they talk to.
// TETHERED_SANITIZE=1 swaps in a shim built with AddressSanitizer and UndefinedBehaviorSanitizer.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import dgram from 'node:dgram';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { buildC, root, shimDir } from './cbuild.mjs';

export const sanitize = process.env.TETHERED_SANITIZE === '1';

let cachedShim = null;
/** { path, preload }: the library, and the LD_PRELOAD value that loads it (ASan first when sanitizing). */
export function shim() {
    if (cachedShim) return cachedShim;
    if (!sanitize) {
        const path = join(root, 'build', 'Release', 'libtethered.so');
        cachedShim = { path, preload: path };
    } else {
        const sources = readdirSync(shimDir).filter((f) => f.endsWith('.c')).map((f) => join(shimDir, f));
        const path = buildC('libtethered', sources, { sanitize: true, shared: true });
        const asan = execFileSync('gcc', ['-print-file-name=libasan.so'], { encoding: 'utf8' }).trim();
        cachedShim = { path, preload: `${asan}:${path}` };
    }
    return cachedShim;
}

export function netprobe() {
    return buildC('netprobe', [join(root, 'test/native/c/netprobe.c')], { libs: ['-lresolv', '-lanl'] });
}

const SANITIZER_ENV = {
    ASAN_OPTIONS: 'detect_leaks=0:verify_asan_link_order=0:abort_on_error=0:exitcode=99',
    UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1:exitcode=98',
};

export function logFile() {
    return join(mkdtempSync(join(tmpdir(), 'tethered-log-')), 'events.jsonl');
}

export function readEvents(path) {
    // Only a regular file: tests also hand the shim a FIFO, a directory or /dev/full as its log.
    if (!existsSync(path) || !statSync(path).isFile()) return [];
    return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/**
 * Runs `cmd args` with the shim preloaded and `env` (TETHERED_* settings) on top of this process's
 * environment. Resolves to { code, stdout, stderr, events } once it exits; events are those in its log.
 */
export async function runUnderShim(cmd, args, env = {}, { preload = true, timeoutMs = 30000, cwd } = {}) {
    const log = env.TETHERED_LOG ?? logFile();
    const fullEnv = { ...process.env, ...(sanitize ? SANITIZER_ENV : {}), TETHERED_LOG: log, ...env };
    if (preload) fullEnv.LD_PRELOAD = shim().preload;
    for (const [k, v] of Object.entries(fullEnv)) if (v === undefined) delete fullEnv[k];
    const child = spawn(cmd, args, { env: fullEnv, stdio: ['ignore', 'pipe', 'pipe'], cwd });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const [code, signal] = await once(child, 'close');
    clearTimeout(timer);
    if (sanitize && /AddressSanitizer|runtime error:|LeakSanitizer/.test(stderr)) {
        throw new Error(`sanitizer report from ${cmd} ${args.join(' ')}:\n${stderr}`);
    }
    return { code, signal, stdout: stdout.trim(), stderr, events: readEvents(log), log };
}

/** A TCP server on `host` that answers each line with "pong:<line>"; `connections` counts peers. */
export async function tcpServer(host = '127.0.0.2') {
    const state = { connections: 0, lines: [] };
    const server = net.createServer((socket) => {
        state.connections++;
        socket.setEncoding('utf8');
        let buf = '';
        socket.on('data', (d) => {
            buf += d;
            let nl;
            while ((nl = buf.indexOf('\n')) >= 0) {
                const line = buf.slice(0, nl);
                buf = buf.slice(nl + 1);
                state.lines.push(line);
                socket.write(`pong:${line}\n`);
            }
        });
        socket.on('error', () => {});
    });
    server.listen(0, host);
    await once(server, 'listening');
    return Object.assign(state, { host, port: server.address().port, close: () => new Promise((r) => server.close(r)) });
}

/** A UDP server on `host` that answers each datagram with "pong:<payload>". */
export async function udpServer(host = '127.0.0.2') {
    const type = host.includes(':') ? 'udp6' : 'udp4';
    const socket = dgram.createSocket(type);
    const state = { datagrams: [] };
    socket.on('message', (msg, rinfo) => {
        state.datagrams.push(msg.toString());
        socket.send(`pong:${msg}`, rinfo.port, rinfo.address);
    });
    socket.bind(0, host);
    await once(socket, 'listening');
    return Object.assign(state, { host, port: socket.address().port, close: () => new Promise((r) => socket.close(r)) });
}

/** An HTTP server on `host` answering "hello from <host>". */
export async function httpServer(host = '127.0.0.2') {
    const state = { requests: 0 };
    const server = http.createServer((req, res) => {
        state.requests++;
        res.end(`hello from ${host}\n`);
    });
    server.listen(0, host);
    await once(server, 'listening');
    return Object.assign(state, { host, port: server.address().port, close: () => new Promise((r) => server.close(r)) });
}

export { root };

/**
 * The loopback peers a suite needs, started before its tests and closed after them:
 * `const s = serve({ tcp: () => tcpServer('127.0.0.2') })`, then `s.tcp.port` inside the tests.
 */
export function serve(factories) {
    const running = {};
    before(async () => {
        for (const [name, start] of Object.entries(factories)) running[name] = await start();
    });
    after(() => Promise.all(Object.values(running).map((server) => server.close())));
    return running;
}
