/**
 * `tethered learn [--out FILE] [--policy FILE] [--allow R]… [--collapse|--collapse-apply] -- CMD …`: runs the command
 * in log mode with every attempt recorded, then prints the smallest allow list that would let it pass: a
 * name with its port where the attempt was made by name, an address only where no name was seen, a
 * port-less name for a lookup that no connect followed. Loopback is left out while allowLocalhost is on.
 *
 * Like a lockfile: the rules it starts from (--policy, the discovered configuration, --allow) are kept and
 * the new ones added after them, so `learn --policy p.json --out p.json` only ever grows p.json; rules the
 * run never used are reported (not removed: one run is not every code path).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Io } from './check.js';
import { uncheckedProgram, uncheckedWarning } from '../exec-check.js';
import { launch, launchPlan, splitCommand } from './launch.js';
import { parseRule } from '../policy/index.js';
import { applyCollapses, collapseSuggestions } from './collapse.js';
import { POLICY_OPTIONS, policyFromOptions } from './policy-options.js';

export const LEARN_USAGE = `Usage: tethered learn [--out FILE] [--policy FILE] [--no-config] [--allow RULE]… [--deny RULE]…
                      [--no-localhost] [--collapse|--collapse-apply] [--strict] -- COMMAND [ARG…]

Runs COMMAND in log mode (nothing is blocked), records every network attempt of it and its children, and
prints the allow list that lets it pass. --out FILE writes it as a policy file instead.

The rules it starts from (--policy FILE, else the nearest tethered.config.json or package.json "tethered"
key, and --allow) are kept, in their order, and the new rules added after them: 'learn --policy p.json
--out p.json' updates p.json like a lockfile. Starting rules the run never used are reported on stderr,
not removed. --collapse suggests one wildcard or /24 for several sibling rules (a.x.com, b.x.com ->
*.x.com); --collapse-apply writes the suggestions in. --strict records through the kernel-enforced
supervisor (static and Go programs too; addresses only, no names).`;

interface LoggedEvent {
    decision: string;
    program?: string;
    protocol: string;
    host: string | null;
    ip: string | null;
    port: number | null;
    rule?: string | null;
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

/** Rules in normal form, each once (they were validated when the policy was built). */
function normalForms(sources: readonly string[]): string[] {
    return [...new Set(sources.map((r) => parseRule(r).text))];
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
        ({ values } = parseArgs({ args: split.options, options: { ...POLICY_OPTIONS, out: { type: 'string' }, collapse: { type: 'boolean' }, 'collapse-apply': { type: 'boolean' }, strict: { type: 'boolean' } } }));
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
    // A program the shim cannot follow makes calls nothing records: the rules would miss them.
    const unchecked = values.strict ? null : uncheckedProgram(split.command[0] ?? '', plan.env.PATH);
    if (unchecked) io.err(uncheckedWarning(unchecked));
    const status = await launch(plan.command, plan.env, io.err);
    const events = readFileSync(log, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as LoggedEvent);
    const missed = new Set(events.flatMap((e) => (e.reason === 'unchecked-exec' && e.program ? [e.program] : [])));
    if (unchecked) missed.add(unchecked.program);
    if (missed.size > 0) io.err(`tethered learn: what ${[...missed].join(', ')} did is not in these rules: learn with --strict`);
    const learned = rulesFromEvents(events);
    const start = normalForms(built.allow);
    const known = new Set(start);
    const added = learned.filter((r) => !known.has(r));
    let rules = [...start, ...added];
    const used = new Set(events.flatMap((e) => (e.decision === 'allow' && e.reason === 'allow-rule' && e.rule ? [e.rule] : [])));
    const unused = start.filter((r) => !used.has(r));
    if (unused.length > 0) io.err(`tethered learn: ${unused.length} rule${unused.length === 1 ? '' : 's'} nothing used in this run: ${unused.join(', ')}`);
    if (values.collapse || values['collapse-apply']) {
        const suggestions = collapseSuggestions(rules);
        for (const c of suggestions) {
            io.err(`tethered learn: suggestion: '${c.rule}' for ${c.replaces.map((r) => `'${r}'`).join(', ')} (it also allows the siblings not seen)`);
        }
        if (values['collapse-apply']) rules = applyCollapses(rules, suggestions);
        else if (suggestions.length > 0) io.err('tethered learn: --collapse-apply writes these suggestions in');
    }
    const summary = `${events.length} attempt${events.length === 1 ? '' : 's'} seen, ${added.length} new rule${added.length === 1 ? '' : 's'}, ${rules.length} in all`;
    if (values.out !== undefined) {
        const deny = normalForms(built.deny);
        const policy = {
            allow: rules,
            ...(deny.length ? { deny } : {}),
            ...(built.policy.allowLocalhost ? {} : { allowLocalhost: false }),
            ...(built.fileMode ? { mode: built.fileMode } : {}),
        };
        writeFileSync(values.out, `${JSON.stringify(policy, null, 2)}\n`);
        io.err(`tethered learn: ${summary}; written to ${values.out}`);
    } else {
        for (const rule of rules) io.out(rule);
        io.err(`tethered learn: ${summary}`);
    }
    return status;
}
