// One test file locks a policy for the process; the other (a fresh module registry, another realm) must
// see it, fail to lift or replace it without the token, and have its connect blocked.
const { test } = require('@jest/globals');
const { appendFileSync } = require('node:fs');
const net = require('node:net');
const t = require('tethered');

module.exports = (file) => {
    const record = (x) => appendFileSync(process.env.RESULTS, JSON.stringify({ file, ...x }) + '\n');
    const code = (fn) => { try { fn(); return 'ok'; } catch (e) { return e.code; } };
    const connect = () => new Promise((resolve) => net.connect(Number(process.env.PEER_PORT), '127.0.0.2').on('connect', function () { this.destroy(); resolve('connected'); }).on('error', (e) => resolve(e.code)));
    test('the one policy of the process', async () => {
        const made = code(() => t.activate({ allow: ['locked.example.test'], allowLocalhost: false, locked: true, lockToken: {} }));
        if (made === 'ok') return record({ lock: 'made' });
        const s = t.status();
        record({ lock: 'seen', made, status: [s.active, s.locked, s.rules.allow], codes: [code(() => t.deactivate()), code(() => t.activate({ allow: ['127.0.0.2'] }))], connect: await connect() });
    });
};
