import http from 'node:http';
import { expect, test } from 'vitest';

test('a request to localhost is allowed', async () => {
    const res = await fetch(`http://127.0.0.1:${process.env.LOCAL_PORT}/`);
    expect(res.status).toBe(200);
});

test('a blocked request whose error is swallowed still fails the test', async () => {
    await new Promise((resolve) => http.get(`http://127.0.0.2:${process.env.PEER_PORT}/swallowed`, resolve).on('error', () => resolve()));
});
