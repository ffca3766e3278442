#!/usr/bin/env node
// The offline demo: `npm run demo`. Runs inside a private network namespace (through the test harness:
// loopback only, test names in /etc/hosts), starts real servers on loopback addresses — two web servers
// (api.example.test, evil.example.test), a DNS server, and PostgreSQL when it is installed — then runs
// demo/app.cjs, which activate()s a policy and tries each way out, and prints what happened to each.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dnsServer } from '../test/helpers/dns-server.mjs';
import { testAddon } from '../test/helpers/inprocess.mjs';
import { postgresMissing, startPostgres } from '../test/helpers/postgres.mjs';
import { httpServer, logFile } from '../test/helpers/shim.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const require = createRequire(import.meta.url);

if (process.env.TETHERED_NETNS !== '1') {
    console.error('tethered demo: not inside the private network namespace; run it with `npm run demo`.');
    process.exit(2);
}

const note = [];
const web = await httpServer('127.0.0.2');
const evil = await httpServer('127.0.0.3');
const dns = await dnsServer({ 'api.example.test': '127.0.0.2', 'evil.example.test': '127.0.0.3' });
let pg = null;
let pgNative = null;
try {
    pgNative = require.resolve('pg-native');
} catch {
    note.push('libpq rows skipped: pg-native is not installed (it is a dev dependency: npm install in the repository).');
}
if (pgNative) {
    const missing = (() => {
        try {
            return postgresMissing();
        } catch (e) {
            return e.message;
        }
    })();
    if (missing) {
        note.push(`libpq rows skipped: ${missing}.`);
        pgNative = null;
    } else {
        pg = await startPostgres();
    }
}
let addon = null;
try {
    addon = testAddon();
} catch {
    note.push('native addon rows skipped: no C compiler to build the demo addon.');
}

const log = logFile();
const app = spawn(process.execPath, [join(here, 'app.cjs')], {
    env: { ...process.env, TETHERED_LOG: log, DEMO: JSON.stringify({ api: web.port, evil: evil.port, log, addon, pgNative: pg ? pgNative : null }) },
    stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
app.stdout.setEncoding('utf8').on('data', (d) => (out += d));
const [code] = await once(app, 'close');
await Promise.all([web.close(), evil.close(), dns.close(), pg?.close()]);

const rows = out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
const bold = (s) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const colour = (ok, s) => (process.stdout.isTTY ? `\x1b[${ok ? 32 : 31}m${s}\x1b[0m` : s);
console.log(bold('tethered demo') + ' — a Node app ran activate({ allow: [\'api.example.test:' + web.port + "', 'db.example.test:5432'], allowLocalhost: false })");
console.log('then tried each way out below. Every attempt is real, to servers on loopback addresses in a private network namespace.\n');
const width = Math.max(...rows.map((r) => r.what.length)) + 2;
for (const [i, r] of rows.entries()) {
    const verdict = r.outcome.ok ? colour(true, 'ALLOWED') : colour(false, 'BLOCKED');
    console.log(`${String(i + 1).padStart(2)}. ${r.what.padEnd(width)} ${verdict}  [${r.layer}]`);
    console.log(`      ${r.outcome.ok ? 'result' : 'error '}: ${r.outcome.detail}`);
    for (const e of r.events) {
        const where = e.host && e.ip ? `${e.host} (${e.ip}${e.port !== null ? `:${e.port}` : ''})` : `${e.host ?? e.ip}${e.port !== null ? `:${e.port}` : ''}`;
        const fix = e.reason === 'deny-rule' ? `denied by '${e.rule}'` : `allow it with '${e.rule}'`;
        console.log(`      event : ${e.decision} ${e.protocol} ${where} via ${e.op} in ${e.exe.split('/').pop()} (pid ${e.pid})${e.scopeLabel ? ` in scope '${e.scopeLabel}'` : ''} — ${fix}`);
        const frame = (e.stack ?? '').split('\n').find((l) => l.includes('app.cjs'));
        if (frame) console.log(`              at ${frame.trim().replace(/^at /, '')}`);
        else if (e.nativeStack?.length) console.log(`              native: ${e.nativeStack.slice(0, 3).join(' < ')}`);
        if (e.url) console.log(`              url: ${e.url}`);
    }
}
for (const n of note) console.log(`\nnote: ${n}`);
const allowed = rows.filter((r) => r.outcome.ok).length;
console.log(`\n${rows.length} attempts: ${allowed} allowed, ${rows.length - allowed} blocked. Questions the DNS server heard: ${dns.questions.join(', ') || 'none'}.`);
process.exitCode = code === 0 && rows.length >= 8 ? 0 : 1;
