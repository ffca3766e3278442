/**
 * How a lookup treats a rule's ports. A connect or send has a real port; a name lookup has none, and then an
 * allow rule for any port lets the name resolve, while only a deny rule that covers every port stops it
 * (denying `evil.example:25` must not stop the lookup that `evil.example:443` needs).
 */
import type { PortRange } from './rule.js';

/** Ignore ports: a rule with any port range matches (allow rules, port-less queries). */
export const ANY_PORT = -1;
/** Only a rule without ports matches (deny rules, port-less queries). */
export const EVERY_PORT = -2;

export function portMatches(ports: PortRange | null, port: number): boolean {
    if (ports === null) return true;
    if (port === ANY_PORT) return true;
    if (port === EVERY_PORT) return false;
    return port >= ports.low && port <= ports.high;
}
