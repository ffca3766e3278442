// A throw-away PostgreSQL server for the driver tests, inside the test namespace: initdb -A trust into a
// temporary directory, listening on db.example.test (127.0.0.4) only. PostgreSQL refuses to run as root,
// and the test namespace maps only root, so the server runs in a nested user namespace as uid 1000 (which
// is this namespace's root outside it: the data directory is its own).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const DB_HOST = '127.0.0.4'; // db.example.test in test/fixtures/hosts

function binDir() {
    try {
        const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8' }).trim();
        if (existsSync(join(dir, 'initdb'))) return dir;
    } catch {
        // fall through
    }
    return null;
}

/** Why PostgreSQL cannot run here, or null. In CI it must (scripts/system-deps.sh installs it). */
export function postgresMissing() {
    if (binDir()) return null;
    const why = 'PostgreSQL server binaries not found (bash scripts/system-deps.sh installs them)';
    if (process.env.CI) throw new Error(why);
    return why;
}

const AS_USER = ['--user', '--map-user=1000', '--map-group=1000', '--'];

function canConnect(host, port) {
    return new Promise((resolve) => {
        const s = net.connect({ host, port });
        s.on('connect', () => {
            s.destroy();
            resolve(true);
        });
        s.on('error', () => resolve(false));
    });
}

/** Starts the server; resolves to { host, port, close() }. */
export async function startPostgres({ host = DB_HOST, port = 5432 } = {}) {
    const bin = binDir();
    const dir = mkdtempSync(join(tmpdir(), 'tethered-pg-'));
    const data = join(dir, 'data');
    execFileSync('unshare', [...AS_USER, join(bin, 'initdb'), '-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], { stdio: 'ignore' });
    const args = ['-D', data, '-k', dir, '-h', host, '-p', String(port), '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'max_connections=30'];
    const server = spawn('unshare', [...AS_USER, join(bin, 'postgres'), ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    server.stderr.on('data', (d) => (log += d));
    const exited = new Promise((resolve) => server.on('exit', resolve));
    for (let i = 0; i < 300 && server.exitCode === null; i++) {
        if (await canConnect(host, port)) {
            // accepting TCP is not yet accepting queries: wait for the ready line
            if (/ready to accept connections/.test(log)) break;
        }
        await sleep(50);
    }
    if (!/ready to accept connections/.test(log)) {
        server.kill('SIGKILL');
        throw new Error(`PostgreSQL did not start:\n${log}`);
    }
    return {
        host,
        port,
        async close() {
            server.kill('SIGINT');
            await exited;
            rmSync(dir, { recursive: true, force: true });
        },
    };
}
