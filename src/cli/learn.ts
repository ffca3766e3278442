/**
 * `tethered learn [--out FILE] [--allow R]… -- CMD …`: runs the command in log mode with every attempt
 * recorded, then prints the smallest allow list that would let it pass: a name with its port where the
 * attempt was made by name, an address only where no name was seen, a port-less name for a lookup that
 * no connect followed. Loopback is left out while allowLocalhost is on.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Io } from './check.js';
import { launch, launchPlan, splitCommand } from './launch.js';
import { POLICY_OPTIONS, policyFromOptions } from './policy-options.js';

export const LEARN_USAGE = `Usage: tethered learn [--out FILE] [--allow RULE]… [--deny RULE]… [--policy FILE] [--no-localhost] [--strict] -- COMMAND [ARG…]

Runs COMMAND in log mode (nothing is blocked), records every network attempt of it and its children, and
prints the smallest allow list that would let it pass. --out FILE writes it as a policy file instead.
Rules given with --allow/--policy are taken as already allowed and not repeated. --strict records through
the kernel-enforced supervisor (static and Go programs too; addresses only, no names).`;

interface LoggedEvent {
    decision: string;
    protocol: string;
    host: string | null;
    ip: string | null;
    port: number | null;
    reason: string;
}

/** The smallest allow list for these events. Pure; exported for tests. */
export function rulesFromEvents(events: readonly LoggedEvent[]): string[] {
    const byName = new Map<string, Set<number>>();
    const lookedUp = new Set<string>();
    const byAddress = new Set<string>();
    for (const e of events) {
        if (e.reason === 'localhost' || e.reason === 'allow-rule' || e.reason === 'invalid-host') continue;
        if (e.protocol === 'dns') {
            if (e.host) lookedUp.add(e.host);
        } else if (e.host && e.port !== null) {
            const ports = byName.get(e.host) ?? new Set<number>();
            ports.add(e.port);
            byName.set(e.host, ports);
        } else if (e.ip && e.port !== null) {
            byAddress.add(e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`);
        }
    }
    const rules: string[] = [];
    for (const [name, ports] of [...byName].sort(([a], [b]) => a.localeCompare(b))) {
        for (const port of [...ports].sort((a, b) => a - b)) rules.push(`${name}:${port}`);
    }
    // A name rule with any port already lets the name resolve.
    for (const name of [...lookedUp].sort()) if (!byName.has(name)) rules.push(name);
    rules.push(...[...byAddress].sort());
    return rules;
}

export async function learn(argv: readonly string[], io: Io): Promise<number> {
    const split = splitCommand(argv);
    if (argv.includes('--help') && !split) {
        io.out(LEARN_USAGE);
        return 0;
    }
    if (!split) {
        io.err(`tethered learn: put -- before the command\n\n${LEARN_USAGE}`);
        return 2;
    }
    let values;
    try {
        ({ values } = parseArgs({ args: split.options, options: { ...POLICY_OPTIONS, out: { type: 'string' }, strict: { type: 'boolean' } } }));
    } catch (err) {
        io.err(`tethered learn: ${(err as Error).message}\n\n${LEARN_USAGE}`);
        return 2;
    }
    const built = policyFromOptions(values);
    if (typeof built === 'string') {
        io.err(`tethered learn: ${built}`);
        return 2;
    }
    const log = join(mkdtempSync(join(tmpdir(), 'tethered-learn-')), 'events.jsonl');
    writeFileSync(log, '');
    let plan;
    try {
        plan = launchPlan(split.command, { policy: built.policy, mode: 'log', log, logAllowed: true, strict: values.strict === true });
    } catch (err) {
        io.err((err as Error).message);
        return 2;
    }
    const status = await launch(plan.command, plan.env, io.err);
    const events = readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LoggedEvent);
    const rules = rulesFromEvents(events);
    if (values.out !== undefined) {
        const policy = { allow: rules, ...(built.policy.allowLocalhost ? {} : { allowLocalhost: false }) };
        writeFileSync(values.out, `${JSON.stringify(policy, null, 2)}\n`);
        io.err(`tethered learn: ${rules.length} rule${rules.length === 1 ? '' : 's'} written to ${values.out}`);
    } else {
        for (const rule of rules) io.out(rule);
        io.err(`tethered learn: ${events.length} attempt${events.length === 1 ? '' : 's'} seen, ${rules.length} rule${rules.length === 1 ? '' : 's'} needed`);
    }
    return status;
}
