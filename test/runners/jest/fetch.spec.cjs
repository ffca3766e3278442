const { test } = require('@jest/globals');
const { appendFileSync } = require('node:fs');
const { isEgressBlocked } = require('tethered');

const record = (x) => appendFileSync(process.env.RESULTS, JSON.stringify({ file: 'fetch', ...x }) + '\n');

test('a fetch to the peer: under tethered it is blocked and its error carries the fields', async () => {
    try {
        const res = await fetch(`http://127.0.0.2:${process.env.PEER_PORT}/`);
        record({ status: res.status });
    } catch (e) {
        const c = e.cause ?? {};
        record({ blocked: isEgressBlocked(e), code: c.code, host: c.host, ip: c.ip, port: c.port, rule: c.rule });
    }
});
