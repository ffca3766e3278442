// A small authoritative DNS server for the test namespace, on the resolver address /etc/resolv.conf names
// (127.0.0.53:53), over UDP and TCP. It answers A queries for the names it is given and NXDOMAIN
// otherwise, and remembers every question it was asked, so a test can prove a blocked query never arrived.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

export const RESOLVER = '127.0.0.53';

function questionName(msg) {
    const labels = [];
    let at = 12;
    while (at < msg.length && msg[at] !== 0) {
        const len = msg[at];
        labels.push(msg.subarray(at + 1, at + 1 + len).toString('latin1'));
        at += len + 1;
    }
    return { name: labels.join('.').toLowerCase(), end: at + 5 };
}

/** Starts the server. `records` maps a lower-case name to an IPv4 address. */
/** Starts the server. `records` maps a lower-case name to an IPv4 address. */
export async function dnsServer(records, { address = RESOLVER } = {}) {
    const state = { questions: [] };
    const answer = (msg) => {
        if (msg.length < 17) return null;
        const { name, end } = questionName(msg);
        const qtype = msg.readUInt16BE(end - 4);
        state.questions.push(name);
        const ip = qtype === 1 ? records[name] : undefined;
        const header = Buffer.alloc(12);
        msg.copy(header, 0, 0, 2); // id
        header.writeUInt16BE(records[name] ? 0x8180 : 0x8183, 2); // response, RD+RA, NOERROR or NXDOMAIN
        header.writeUInt16BE(1, 4);
        header.writeUInt16BE(ip ? 1 : 0, 6);
        const parts = [header, msg.subarray(12, end)];
        if (ip) {
            const rr = Buffer.alloc(16);
            rr.writeUInt16BE(0xc00c, 0);
            rr.writeUInt16BE(1, 2);
            rr.writeUInt16BE(1, 4);
            rr.writeUInt32BE(60, 6);
            rr.writeUInt16BE(4, 10);
            ip.split('.').forEach((o, i) => rr.writeUInt8(Number(o), 12 + i));
            parts.push(rr);
        }
        return Buffer.concat(parts);
    };
    const udp = dgram.createSocket('udp4');
    udp.on('message', (msg, rinfo) => {
        const reply = answer(msg);
        if (reply) udp.send(reply, rinfo.port, rinfo.address);
    });
    udp.bind(53, address);
    // TCP: each message behind a two-byte length.
    const tcp = net.createServer((sock) => {
        let pending = Buffer.alloc(0);
        sock.on('error', () => {});
        sock.on('data', (chunk) => {
            pending = Buffer.concat([pending, chunk]);
            while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
                const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
                pending = pending.subarray(2 + msg.length);
                const reply = answer(msg);
                if (reply) {
                    const len = Buffer.alloc(2);
                    len.writeUInt16BE(reply.length);
                    sock.write(Buffer.concat([len, reply]));
                }
            }
        });
    });
    tcp.listen(53, address);
    await Promise.all([once(udp, 'listening'), once(tcp, 'listening')]);
    return Object.assign(state, { close: () => Promise.all([new Promise((r) => udp.close(r)), new Promise((r) => tcp.close(r))]) });
}
