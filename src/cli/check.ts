/**
 * `tethered check [--policy FILE] [--deny R]… [--no-localhost] [--json] [--strict] [R…]`: validate rules,
 * print them in normal form, warn about over-broad, duplicate, shadowed and dead rules. Exit 2 on an invalid
 * rule or policy file, 1 on warnings with --strict, else 0.
 */
import { parseArgs } from 'node:util';
import { analysePolicy } from '../policy/analyse.js';
import { findConfig } from '../config-file.js';
import { type PolicyFile, PolicyFileError, readPolicyFile } from '../policy-file.js';
import { splitRuleArguments } from './policy-options.js';

export const CHECK_USAGE = `Usage: tethered check [--policy FILE] [--no-config] [--deny RULE]… [--no-localhost] [--json] [--strict] [RULE…]

Validates allow rules (given as arguments and/or in a policy file), prints them in normal form,
and warns about over-broad, duplicate, shadowed and dead rules. An argument may hold several rules
separated by commas.

  --policy FILE    JSON policy file: {"allow": [...], "deny": [...], "allowLocalhost": true, "mode": "enforce"};
                   without it, the nearest tethered.config.json or package.json "tethered" key is read
  --no-config      do not look for tethered.config.json / package.json
  --deny RULE      a deny rule (repeatable)
  --no-localhost   check as if allowLocalhost were false
  --json           print the report as JSON
  --strict         exit 1 when there are warnings

Exit status: 0 valid, 1 warnings with --strict, 2 invalid rule or policy file.`;

export interface Io {
    readonly out: (line: string) => void;
    readonly err: (line: string) => void;
}

export function check(argv: readonly string[], io: Io): number {
    let parsed;
    try {
        parsed = parseArgs({
            args: [...argv],
            allowPositionals: true,
            options: {
                policy: { type: 'string' },
                'no-config': { type: 'boolean' },
                deny: { type: 'string', multiple: true },
                'no-localhost': { type: 'boolean' },
                json: { type: 'boolean' },
                strict: { type: 'boolean' },
                help: { type: 'boolean', short: 'h' },
            },
        });
    } catch (err) {
        io.err(`tethered check: ${(err as Error).message}`);
        io.err(CHECK_USAGE);
        return 2;
    }
    const { values, positionals } = parsed;
    if (values.help) {
        io.out(CHECK_USAGE);
        return 0;
    }
    let allow = splitRuleArguments(positionals);
    let deny = splitRuleArguments(values.deny ?? []);
    let allowLocalhost = !values['no-localhost'];
    let file: PolicyFile | null = null;
    try {
        if (values.policy !== undefined) file = readPolicyFile(values.policy);
        else if (!values['no-config']) {
            const found = findConfig();
            if (found) {
                io.err(`tethered check: policy from ${found.path}`);
                file = found.policy;
            }
        }
    } catch (err) {
        if (!(err instanceof PolicyFileError)) throw err;
        io.err(`tethered check: ${err.message}`);
        return 2;
    }
    if (file) {
        allow = [...file.allow, ...allow];
        deny = [...file.deny, ...deny];
        if (file.allowLocalhost === false) allowLocalhost = false;
    }
    if (allow.length === 0 && deny.length === 0) {
        io.err('tethered check: no rules given (pass rules as arguments or --policy FILE)');
        return 2;
    }
    const analysis = analysePolicy({ allow, deny, allowLocalhost });
    if (values.json) {
        io.out(
            JSON.stringify(
                {
                    valid: analysis.errors.length === 0,
                    allowLocalhost,
                    rules: analysis.rules.map((r) => ({ list: r.list, source: r.source, text: r.text, error: r.error?.message ?? null })),
                    warnings: analysis.warnings,
                },
                null,
                2,
            ),
        );
    } else {
        for (const r of analysis.rules) {
            if (r.error) io.err(`error: ${r.error.message}`);
            else io.out(`${r.list.padEnd(5)}  ${r.text}${r.text !== r.source.trim() ? `    (written ${JSON.stringify(r.source)})` : ''}`);
        }
        io.out(`localhost: ${allowLocalhost ? 'allowed (localhost, 127.0.0.0/8, ::1, 0.0.0.0, ::)' : 'needs a rule (allowLocalhost off)'}`);
        for (const w of analysis.warnings) io.out(`warning: ${w.message}`);
        const valid = analysis.rules.length - analysis.errors.length;
        io.out(
            `${valid} valid rule${valid === 1 ? '' : 's'}, ${analysis.errors.length} invalid, ${analysis.warnings.length} warning${analysis.warnings.length === 1 ? '' : 's'}`,
        );
    }
    if (analysis.errors.length > 0) return 2;
    if (values.strict && analysis.warnings.length > 0) return 1;
    return 0;
}
