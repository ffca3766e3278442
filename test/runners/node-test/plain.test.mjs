// The control for egress.test.mjs: the same request without tethered reaches the peer.
import http from 'node:http';
import { test } from 'node:test';

test('a request without tethered reaches the peer', async () => {
    await new Promise((resolve, reject) => http.get(`http://127.0.0.2:${process.env.PEER_PORT}/plain`, (res) => { res.resume(); resolve(); }).on('error', reject));
});
