/**
 * Address and CIDR rules, indexed by prefix length: one hash table per length that occurs in the policy.
 * A lookup masks the address once per distinct length (at most 33 for IPv4, 129 for IPv6, whatever the
 * number of rules), longest first, so the most specific rule is found first.
 */
import { type IpAddress, ipv6Key, maskIpv4, maskIpv6 } from './ip.js';
import { portMatches } from './ports.js';
import type { AddressRule } from './rule.js';

class FamilyIndex<K> {
    readonly #tables = new Map<number, Map<K, AddressRule[]>>();
    #lengths: number[] = [];

    add(prefix: number, key: K, rule: AddressRule): void {
        let table = this.#tables.get(prefix);
        if (!table) {
            this.#tables.set(prefix, (table = new Map<K, AddressRule[]>()));
            this.#lengths = [...this.#tables.keys()].sort((a, b) => b - a);
        }
        const list = table.get(key);
        if (list) list.push(rule);
        else table.set(key, [rule]);
    }

    match(keyAt: (prefix: number) => K, port: number): AddressRule | null {
        for (const prefix of this.#lengths) {
            const list = (this.#tables.get(prefix) as Map<K, AddressRule[]>).get(keyAt(prefix));
            if (!list) continue;
            for (const rule of list) if (portMatches(rule.ports, port)) return rule;
        }
        return null;
    }
}

export class AddressIndex {
    readonly #v4 = new FamilyIndex<number>();
    readonly #v6 = new FamilyIndex<string>();

    add(rule: AddressRule): void {
        const ip = rule.ip;
        if (ip.family === 4) this.#v4.add(rule.prefix, maskIpv4(ip.v4, rule.prefix), rule);
        else this.#v6.add(rule.prefix, ipv6Key(maskIpv6(ip.v6, rule.prefix)), rule);
    }

    /** The longest-prefix rule that contains `ip` and allows `port`, or null. */
    match(ip: IpAddress, port: number): AddressRule | null {
        if (ip.family === 4) {
            const v4 = ip.v4;
            return this.#v4.match((prefix) => maskIpv4(v4, prefix), port);
        }
        const v6 = ip.v6;
        return this.#v6.match((prefix) => ipv6Key(maskIpv6(v6, prefix)), port);
    }
}
