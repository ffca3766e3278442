// The application the demo runs under tethered: it activates a policy ("this service may talk to its API
// and its database, nothing else") and then tries each way out. Every attempt is real; the servers are
// loopback addresses inside the demo's private network namespace. Prints one JSON line per attempt.
'use strict';
const { execFile } = require('node:child_process');
const dns = require('node:dns');
const { readFileSync, existsSync } = require('node:fs');
const t = require('..');

const { api, evil, log, addon: addonPath, pgNative } = JSON.parse(process.env.DEMO);
const events = [];
t.activate({ allow: [`api.example.test:${api}`, 'db.example.test:5432'], allowLocalhost: false, onBlocked: (e) => events.push(e) });

const tick = () => new Promise((r) => setTimeout(r, 80));
const childEvents = () => (existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((e) => e.pid !== process.pid) : []);
let childSeen = 0;

async function attempt(what, layer, fn) {
    const before = events.length;
    childSeen = childEvents().length;
    let outcome;
    try {
        outcome = { ok: true, detail: String(await fn()) };
    } catch (err) {
        const e = err && err.cause && err.cause.code === 'ERR_EGRESS_BLOCKED' ? err.cause : err;
        outcome = { ok: false, detail: `${e.name === 'EgressBlocked' ? 'EgressBlocked' : e.code || e.name}: ${String(e.message).split('\n')[0]}` };
    }
    await tick();
    const seen = [...events.slice(before), ...childEvents().slice(childSeen)];
    const unique = seen.filter((e, i) => seen.findIndex((x) => x.seq === e.seq && x.pid === e.pid) === i);
    process.stdout.write(`${JSON.stringify({ what, layer, outcome, events: unique })}\n`);
}

const get = (url) => fetch(url).then((r) => r.text()).then((s) => s.trim());
const curl = (url) =>
    new Promise((resolve, reject) =>
        execFile('curl', ['-sS', '--max-time', '5', url], (err, stdout, stderr) => (err ? reject(Object.assign(new Error(stderr.trim() || err.message), { code: `curl exit ${err.code}` })) : resolve(stdout.trim()))),
    );

(async () => {
    await attempt(`fetch http://api.example.test:${api}/`, 'JavaScript (undici)', () => get(`http://api.example.test:${api}/`));
    await attempt(`fetch http://evil.example.test:${evil}/`, 'JavaScript (undici)', () => get(`http://evil.example.test:${evil}/`));
    await attempt('dns.resolve4("api.example.test")', 'c-ares (its own UDP query)', () => dns.promises.resolve4('api.example.test'));
    await attempt('dns.resolve4("evil.example.test")', 'c-ares (its own UDP query)', () => dns.promises.resolve4('evil.example.test'));
    if (addonPath) {
        const addon = require(addonPath);
        const errno = (n) => { if (n !== 0) throw Object.assign(new Error(`connect() returned -1, errno ${n}`), { code: n === 13 ? 'EACCES' : String(n) }); return 'connected'; };
        await attempt(`native addon connect() to 127.0.0.2:${api}`, 'native addon (C)', () => errno(addon.connectTo('127.0.0.2', api)));
        await attempt(`native addon connect() to 127.0.0.3:${evil}`, 'native addon (C)', () => errno(addon.connectTo('127.0.0.3', evil)));
    }
    await attempt(`child curl http://api.example.test:${api}/`, 'child process', () => curl(`http://api.example.test:${api}/`));
    await attempt(`child curl http://evil.example.test:${evil}/`, 'child process', () => curl(`http://evil.example.test:${evil}/`));
    if (pgNative) {
        const Client = require(pgNative);
        const query = (conn) => {
            const c = new Client();
            c.connectSync(conn);
            const v = c.querySync("select 'hello from postgres' as v")[0].v;
            c.end();
            return v;
        };
        await attempt('libpq query to db.example.test:5432', 'libpq (pg-native)', () => query('host=db.example.test port=5432 user=postgres dbname=postgres connect_timeout=5'));
        await attempt('libpq query to evil.example.test:5432', 'libpq (pg-native)', () => query('host=evil.example.test port=5432 user=postgres dbname=postgres connect_timeout=5'));
    }
    await attempt('noEgress() around a tool call that swallows its error', 'noEgress()', () =>
        t.noEgress({ allow: [`api.example.test:${api}`], allowLocalhost: false, label: 'tool:lookup' }, async () => {
            await get(`http://api.example.test:${api}/`);
            await get(`http://evil.example.test:${evil}/`).catch(() => 'swallowed');
            return 'done';
        }),
    );
})();
