// In-process tests run each scenario in a fresh `node` (activate() patches the whole process), with no
// LD_PRELOAD, and read back what the script printed as JSON.
import { join } from 'node:path';
import { buildC, root } from './cbuild.mjs';
import { runUnderShim } from './shim.mjs';

export function testAddon() {
    return buildC('testaddon', [join(root, 'test/native/c/testaddon.c')], { shared: true, suffix: '.node', includes: ['/usr/include/node'] });
}

export function probeLibrary() {
    return buildC('libprobe', [join(root, 'test/native/c/libprobe.c')], { shared: true });
}

/**
 * Runs `body` (an async function body using `t` = require('tethered'), `addon`, `net`, `print(x)`) in a
 * fresh node. Resolves to { results: [every print()], code, stderr }.
 */
export async function inFreshNode(body, { env = {}, preload = false } = {}) {
    const script = `
const t = require(${JSON.stringify(root)});
const addon = require(${JSON.stringify(testAddon())});
const probeLibrary = ${JSON.stringify(probeLibrary())};
const net = require('node:net');
const print = (x) => process.stdout.write(JSON.stringify(x) + '\\n');
const connectJs = (host, port) => new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.on('connect', () => { s.destroy(); resolve('ok'); });
    s.on('error', (e) => resolve(e.code));
});
// events of other threads reach onBlocked asynchronously: give them time on a loaded machine
const tick = () => new Promise((r) => setTimeout(r, 150));
(async () => { ${body} })().catch((e) => { print({ thrown: e.name, message: e.message, code: e.code }); process.exitCode = 1; });
`;
    const r = await runUnderShim(process.execPath, ['-e', script], { TETHERED_LOG: undefined, ...env }, { preload });
    const results = r.stdout ? r.stdout.split('\n').map((l) => JSON.parse(l)) : [];
    return { ...r, results };
}
