// Node's c-ares resolver under strict mode (a child program of the tests, not a test file):
//   node cares-dial.mjs NAME PORT MARKER [SERVER]
// resolves NAME (unless it is an address) with dns.resolve4 (c-ares: its own UDP or TCP sockets to the name servers of
// /etc/resolv.conf, or to SERVER), connects to the first address, sends MARKER and prints "ok <answer>", or
// "error lookup <code>" / "error EACCES" / "error <code>".
import dns from 'node:dns';
import net from 'node:net';

const [name, port, marker, server] = process.argv.slice(2);
const resolver = new dns.promises.Resolver({ timeout: 1000, tries: 1 });
if (server) resolver.setServers([server]);
let address = net.isIP(name) ? name : null;
try {
    if (!address) [address] = await resolver.resolve4(name);
} catch (e) {
    console.log(`error lookup ${e.code}`);
    process.exit(0);
}
const socket = net.connect(Number(port), address);
socket.setEncoding('utf8');
socket.on('connect', () => socket.write(`${marker}\n`));
socket.on('data', (line) => {
    console.log(`ok ${line.trim()}`);
    socket.destroy();
});
socket.on('error', (e) => console.log(`error ${e.code}`));
