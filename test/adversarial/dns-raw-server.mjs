// A name server for the adversarial DNS tests, on the resolver address /etc/resolv.conf names in the test
// namespace (127.0.0.53:53), UDP and TCP. Unlike test/helpers/dns-server.mjs it keeps every byte it is
// sent (not only each message's first question), so a test can prove that a name never arrived anywhere
// in a message: in a second question, an additional record, a "response", a message split across writes.
// It answers the first question: A records for the names it is given (after `delay` ms for names that
// start with "slow"), NXDOMAIN otherwise.
import dgram from 'node:dgram';
import { once } from 'node:events';
import net from 'node:net';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function firstQuestion(msg) {
    const labels = [];
    let at = 12;
    while (at < msg.length && msg[at] !== 0 && msg[at] < 64) {
        labels.push(msg.subarray(at + 1, at + 1 + msg[at]).toString('latin1'));
        at += msg[at] + 1;
    }
    return { name: labels.join('.').toLowerCase(), end: at + 5 };
}

function answer(msg, records) {
    if (msg.length < 17 || msg[2] & 0x80) return null;
    const { name, end } = firstQuestion(msg);
    if (end > msg.length) return null;
    const ip = msg.readUInt16BE(end - 4) === 1 ? records[name] : undefined;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2);
    header.writeUInt16BE(ip ? 0x8180 : 0x8183, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(ip ? 1 : 0, 6);
    const parts = [header, msg.subarray(12, end)];
    if (ip) {
        const rr = Buffer.from([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...ip.split('.').map(Number)]);
        parts.push(rr);
    }
    return { name, reply: Buffer.concat(parts) };
}

/** Starts the server; `records` maps a lower-case name to an IPv4 address. */
export async function rawDnsServer(records = {}, { address = '127.0.0.53', delay = 600 } = {}) {
    const chunks = [];
    const questions = []; // the first question of every message: each datagram, each framed TCP message
    let closed = false;
    const later = async (name) => {
        if (name.startsWith('slow')) await sleep(delay);
    };
    const udp = dgram.createSocket('udp4');
    udp.on('message', async (msg, rinfo) => {
        chunks.push(msg);
        if (msg.length > 12) questions.push(firstQuestion(msg).name);
        const a = answer(msg, records);
        if (!a) return;
        await later(a.name);
        if (!closed) udp.send(a.reply, rinfo.port, rinfo.address, () => {});
    });
    udp.bind(53, address);
    const tcp = net.createServer((sock) => {
        const index = chunks.push(Buffer.alloc(0)) - 1;
        let pending = Buffer.alloc(0);
        sock.on('error', () => {});
        sock.on('data', async (chunk) => {
            chunks[index] = Buffer.concat([chunks[index], chunk]);
            pending = Buffer.concat([pending, chunk]);
            while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
                const msg = pending.subarray(2, 2 + pending.readUInt16BE(0));
                pending = pending.subarray(2 + msg.length);
                if (msg.length > 12) questions.push(firstQuestion(msg).name);
                const a = answer(msg, records);
                if (!a) continue;
                await later(a.name);
                if (closed || sock.destroyed) return;
                const len = Buffer.alloc(2);
                len.writeUInt16BE(a.reply.length);
                sock.write(Buffer.concat([len, a.reply]));
            }
        });
    });
    tcp.listen(53, address);
    await Promise.all([once(udp, 'listening'), once(tcp, 'listening')]);
    const has = (name) => {
        // the whole name as it sits in a message (length-prefixed labels, compression aside); a message cut
        // across TCP writes is joined per connection
        const wire = Buffer.concat(name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])));
        return chunks.some((c) => c.includes(wire));
    };
    return {
        /** Did anything sent to the server hold the name? Waits a little for it. */
        async heard(name, wait = 300) {
            for (let waited = 0; waited < wait && !has(name); waited += 20) await sleep(20);
            return has(name);
        },
        /** Did a message arrive whose (first) question is the name, as the server reads its messages? */
        async asked(name, wait = 300) {
            for (let waited = 0; waited < wait && !questions.includes(name); waited += 20) await sleep(20);
            return questions.includes(name);
        },
        /** How many messages sent to the server held the name. */
        times(name) {
            const wire = Buffer.concat(name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])));
            return chunks.filter((c) => c.includes(wire)).length;
        },
        forget() {
            chunks.length = 0;
            questions.length = 0;
        },
        close: () => {
            closed = true;
            return Promise.all([new Promise((r) => udp.close(r)), new Promise((r) => tcp.close(r))]);
        },
    };
}
