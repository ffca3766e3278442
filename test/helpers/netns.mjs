// What the harness (scripts/test.mjs) tells a test about where it runs.
import { readFileSync } from 'node:fs';

/** True inside the private network namespace, where sockets can only ever reach loopback. */
export const isolated = process.env.TETHERED_NETNS === '1';

/** `test(name, { skip: NEEDS_NETNS }, fn)` for every test that opens a socket or resolves a name. */
export const NEEDS_NETNS = isolated ? false : 'needs the private network namespace: run it through `npm test`';

/** name → address, from the hosts file in force inside the namespace. */
export function testHosts() {
    const file = process.env.TETHERED_TEST_HOSTS ?? new URL('../fixtures/hosts', import.meta.url);
    const hosts = new Map();
    for (const line of readFileSync(file, 'utf8').split('\n')) {
        const [addr, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
        for (const name of names) if (!hosts.has(name)) hosts.set(name, addr);
    }
    return hosts;
}
