// A small authoritative DNS server for the test namespace, on the resolver address /etc/resolv.conf names
// (127.0.0.53:53). It answers A queries for the names it is given and NXDOMAIN otherwise, and remembers
// every question it was asked, so a test can prove a blocked query never arrived.
import dgram from 'node:dgram';
import { once } from 'node:events';

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
export async function dnsServer(records) {
    const socket = dgram.createSocket('udp4');
    const state = { questions: [] };
    socket.on('message', (msg, rinfo) => {
        if (msg.length < 17) return;
        const { name, end } = questionName(msg);
        const qtype = msg.readUInt16BE(end - 4);
        state.questions.push(name);
        const address = qtype === 1 ? records[name] : undefined;
        const header = Buffer.alloc(12);
        msg.copy(header, 0, 0, 2); // id
        header.writeUInt16BE(records[name] ? 0x8180 : 0x8183, 2); // response, RD+RA, NOERROR or NXDOMAIN
        header.writeUInt16BE(1, 4);
        header.writeUInt16BE(address ? 1 : 0, 6);
        const question = msg.subarray(12, end);
        const parts = [header, question];
        if (address) {
            const answer = Buffer.alloc(16);
            answer.writeUInt16BE(0xc00c, 0);
            answer.writeUInt16BE(1, 2);
            answer.writeUInt16BE(1, 4);
            answer.writeUInt32BE(60, 6);
            answer.writeUInt16BE(4, 10);
            address.split('.').forEach((o, i) => answer.writeUInt8(Number(o), 12 + i));
            parts.push(answer);
        }
        socket.send(Buffer.concat(parts), rinfo.port, rinfo.address);
    });
    socket.bind(53, RESOLVER);
    await once(socket, 'listening');
    return Object.assign(state, { close: () => new Promise((r) => socket.close(r)) });
}
