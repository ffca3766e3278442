// N6: real database drivers against a real PostgreSQL server started in the test namespace — libpq through
// pg-native (native code: libpq's own getaddrinfo and connect) and the pure-JavaScript pg driver — each
// allowed by name and by IP (a query round-trips), blocked by name (the lookup fails), blocked at connect
// (a port or an IP the rules do not name: the driver's own error and one event naming host, IP and
// port), and in log-only mode (works, one would-block event). In-process activate() and tethered run alike.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { NEEDS_NETNS } from '../helpers/netns.mjs';
import { inFreshNode } from '../helpers/inprocess.mjs';
import { postgresMissing, startPostgres } from '../helpers/postgres.mjs';
import { logFile, readEvents, runUnderShim } from '../helpers/shim.mjs';

const require = createRequire(import.meta.url);
const PG_NATIVE = require.resolve('pg-native');
const PG = require.resolve('pg');
const cli = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const skip = NEEDS_NETNS || postgresMissing() || false;

// One query through a driver, printed as the result or the driver's error message.
const QUERY = {
    'pg-native': (host) => `
        const Client = require(${JSON.stringify(PG_NATIVE)});
        const client = new Client();
        let result;
        try {
            client.connectSync('host=${host} port=5432 user=postgres dbname=postgres connect_timeout=5');
            result = client.querySync('select 1 + 1 as answer')[0].answer;
            client.end();
        } catch (e) { result = 'error: ' + e.message.trim(); }`,
    pg: (host) => `
        const { Client } = require(${JSON.stringify(PG)});
        const client = new Client({ host: '${host}', port: 5432, user: 'postgres', database: 'postgres', connectionTimeoutMillis: 5000 });
        let result;
        try {
            await client.connect();
            result = (await client.query('select 1 + 1 as answer')).rows[0].answer;
            await client.end();
        } catch (e) { result = 'error: ' + (e.code ? e.code + ' ' : '') + e.message.trim(); }`,
};

// [what, host, policy, expected result, expected events [decision, op, host, ip, port]]
const CASES = [
    ['allowed by name: the query round-trips', 'db.example.test', { allow: ['db.example.test:5432'] }, 2, []],
    ['allowed by IP', '127.0.0.4', { allow: ['127.0.0.4:5432'] }, 2, []],
    ['blocked by name: the lookup fails', 'db.example.test', { allow: ['other.example.test'] }, /error/, [['block', 'getaddrinfo', 'db.example.test', null, null]]],
    ['blocked at connect: a port the rule does not name', 'db.example.test', { allow: ['db.example.test:5433'] }, /error/, [['block', 'connect', 'db.example.test', '127.0.0.4', 5432]]],
    ['blocked at connect: an IP no rule lists', '127.0.0.4', { allow: ['127.0.0.5:5432'] }, /error/, [['block', 'connect', null, '127.0.0.4', 5432]]],
    ['log-only: works, one would-block event', 'db.example.test', { allow: ['db.example.test:1'], logOnly: true }, 2, [['would-block', 'connect', 'db.example.test', '127.0.0.4', 5432]]],
];

const shape = (events) => events.map((e) => [e.decision, e.op.replace(/^(getaddrinfo|connect).*/, '$1'), e.host, e.ip, e.port]);

describe('PostgreSQL drivers (N6)', { skip }, () => {
    let pg;
    const dir = mkdtempSync(join(tmpdir(), 'tethered-pg-scripts-'));
    before(async () => {
        pg = await startPostgres();
    });
    after(() => pg?.close());

    test('N6 libpq inside scope(): the scope judges its lookup and its connect, on the JavaScript thread', async () => {
        const r = await inFreshNode(`
            const seen = [];
            t.activate({ allow: ['db.example.test:5432'], allowLocalhost: false, onBlocked: (e) => seen.push([e.op, e.host, e.port, e.scopeLabel]) });
            const query = () => { ${QUERY['pg-native']('db.example.test')}; return result; };
            print(query());
            print(t.scope({ allow: ['db.example.test:5433'], allowLocalhost: false, label: 'reports' }, query));
            print(t.scope({ allow: ['other.example.test'], allowLocalhost: false, label: 'no-db' }, query));
            await tick();
            print(seen);
        `);
        const [outside, wrongPort, noName, seen] = r.results;
        assert.equal(outside, 2, r.stderr);
        assert.match(wrongPort, /^error: .*Permission denied/s);
        assert.match(noName, /^error: /);
        assert.deepEqual(seen, [['connect', 'db.example.test', 5432, 'reports'], ['getaddrinfo', 'db.example.test', null, 'no-db']]);
    });

    for (const driver of Object.keys(QUERY)) {
        for (const [what, host, policy, expected, events] of CASES) {
            test(`N6 ${driver}, activate(): ${what}`, async () => {
                const r = await inFreshNode(`
                    const seen = [];
                    t.activate({ ...${JSON.stringify(policy)}, allowLocalhost: false, onBlocked: (e) => seen.push(e) });
                    ${QUERY[driver](host)}
                    await tick();
                    print(result);
                    print(seen.map((e) => [e.decision, e.op, e.host, e.ip, e.port]));
                    print(seen.map((e) => e.code));
                `);
                const [result, seen] = r.results;
                if (expected instanceof RegExp) assert.match(String(result), expected, r.stderr);
                else assert.equal(result, expected, r.stderr);
                assert.deepEqual(shape(seen.map(([decision, op, h, ip, port]) => ({ decision, op, host: h, ip, port }))), events);
                if (driver === 'pg' && expected instanceof RegExp) assert.match(result, /ERR_EGRESS_BLOCKED/, 'pg callers get an EgressBlocked');
            });

            test(`N6 ${driver}, tethered run: ${what}`, async () => {
                const script = join(dir, `${driver}.js`);
                writeFileSync(script, `(async () => { ${QUERY[driver](host)}\n console.log(JSON.stringify(result)); })();`);
                const log = logFile();
                const flags = [...policy.allow.flatMap((r) => ['--allow', r]), '--no-localhost', '--log', log, ...(policy.logOnly ? ['--log-only'] : [])];
                const r = await runUnderShim(process.execPath, [cli, 'run', ...flags, '--', process.execPath, script], { TETHERED_LOG: undefined }, { preload: false });
                const result = JSON.parse(r.stdout || 'null');
                if (expected instanceof RegExp) assert.match(String(result), expected, r.stderr);
                else assert.equal(result, expected, r.stderr);
                assert.deepEqual(shape(readEvents(log)), events);
            });
        }
    }
});
