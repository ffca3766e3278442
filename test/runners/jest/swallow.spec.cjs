/* global test, expect -- the globals, as most Jest suites use them (fetch.spec.cjs imports them from @jest/globals) */
const http = require('node:http');

test('a request to localhost is allowed', async () => {
    const res = await fetch(`http://127.0.0.1:${process.env.LOCAL_PORT}/`);
    expect(res.status).toBe(200);
});

test('a blocked request whose error is swallowed still fails the test', async () => {
    await new Promise((resolve) => http.get(`http://127.0.0.2:${process.env.PEER_PORT}/swallowed`, resolve).on('error', () => resolve()));
});
