// Run by runners.test.mjs with `node --test`: every test inside noEgress() through tethered/node-test.
import http from 'node:http';
import { configure, test } from 'tethered/node-test';

// In the test namespace every peer is on loopback: count only 127.0.0.1 as "local" for these tests.
configure({ allow: ['127.0.0.1'], allowLocalhost: false });

test('a request to localhost is allowed', async () => {
    const res = await fetch(`http://127.0.0.1:${process.env.LOCAL_PORT}/`);
    if (res.status !== 200) throw new Error(`status ${res.status}`);
});

test('a blocked request whose error is swallowed still fails the test', async () => {
    await new Promise((resolve) => http.get(`http://127.0.0.2:${process.env.PEER_PORT}/swallowed`, resolve).on('error', () => resolve()));
});

test('a done-callback test is run inside noEgress() too', (t, done) => {
    http.get(`http://127.0.0.2:${process.env.PEER_PORT}/callback`, () => done()).on('error', () => done());
});
