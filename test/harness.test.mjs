// The harness itself: the suite runs where a failed block cannot leak a packet.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import dns from 'node:dns/promises';
import net from 'node:net';
import { once } from 'node:events';
import { test } from 'node:test';
import { NEEDS_NETNS, testHosts } from './helpers/netns.mjs';

test('the suite runs in a network namespace whose only interface is loopback', { skip: NEEDS_NETNS }, () => {
    const interfaces = readFileSync('/proc/net/dev', 'utf8')
        .split('\n')
        .slice(2)
        .map((l) => l.split(':')[0].trim())
        .filter(Boolean);
    assert.deepEqual(interfaces, ['lo']);
});

test('test host names resolve to their own loopback addresses', { skip: NEEDS_NETNS }, async () => {
    const hosts = testHosts();
    for (const name of ['api.example.test', 'evil.example.test', 'db.example.test']) {
        const { address } = await dns.lookup(name, { family: 4 });
        assert.equal(address, hosts.get(name));
        assert.match(address, /^127\./);
    }
});

test('a name outside the test hosts does not resolve', { skip: NEEDS_NETNS }, async () => {
    await assert.rejects(dns.lookup('unknown.example.invalid'), (err) => ['ENOTFOUND', 'EAI_AGAIN'].includes(err.code));
});

test('an address outside loopback is unreachable from inside the namespace', { skip: NEEDS_NETNS }, async () => {
    // 192.0.2.1 is TEST-NET-1 (documentation only). This runs only inside the namespace, where no route
    // exists, so the kernel refuses the connect before any packet is built.
    const socket = net.connect({ host: '192.0.2.1', port: 9 });
    const [err] = await once(socket, 'error');
    assert.equal(err.code, 'ENETUNREACH');
});

test('a server on a test host address answers on loopback', { skip: NEEDS_NETNS }, async () => {
    const server = net.createServer((s) => s.end('pong'));
    server.listen(0, '127.0.0.2');
    await once(server, 'listening');
    try {
        const socket = net.connect({ host: 'api.example.test', port: server.address().port });
        let data = '';
        socket.setEncoding('utf8').on('data', (d) => (data += d));
        await once(socket, 'end');
        assert.equal(data, 'pong');
        assert.equal(socket.remoteAddress, '127.0.0.2');
    } finally {
        server.close();
    }
});
