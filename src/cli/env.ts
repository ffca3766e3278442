/**
 * `tethered env [POLICY OPTIONS]`: shell lines for `eval "$(tethered env --allow …)"` that put the shim and
 * the policy into the shell's environment. The recipe LD_PRELOAD=$(…) fails open when the path is wrong
 * (the dynamic loader prints a warning and runs the program unprotected); these lines check themselves:
 * the library must exist when they are generated and again when they are evaluated, else nothing is
 * exported and the eval fails.
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { preloadFirst, policyVariables } from '../child-env.js';
import { shimPath } from '../native.js';
import type { Io } from './check.js';
import { POLICY_OPTIONS, policyFromOptions, policyWarnings } from './policy-options.js';

export const ENV_USAGE = `Usage: eval "$(tethered env [--allow RULE]… [--deny RULE]… [--policy FILE] [--no-localhost] [--log-only] [--log WHERE])"

Prints 'export LD_PRELOAD=… TETHERED_ALLOW=…' for a POSIX shell. The lines test that libtethered.so is
there before exporting anything, and fail (status 1, a message on stderr) when it is not, so that a
broken install never leaves the shell unprotected without a word. Run it where the package is installed.`;

/** Single-quoted for a POSIX shell. */
export const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** What the eval runs when we cannot produce the lines: a message, and a failing status. */
function failing(message: string): string {
    return `echo ${shellQuote(message)} >&2; false`;
}

export function env(argv: readonly string[], io: Io): number {
    let values;
    try {
        ({ values } = parseArgs({ args: [...argv], options: { ...POLICY_OPTIONS, 'log-only': { type: 'boolean' }, log: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
    } catch (err) {
        io.out(failing(`tethered env: ${(err as Error).message}`));
        io.err(ENV_USAGE);
        return 2;
    }
    if (values.help) {
        io.err(ENV_USAGE);
        return 0;
    }
    const built = policyFromOptions(values);
    if (typeof built === 'string') {
        io.out(failing(`tethered env: ${built}`));
        return 2;
    }
    for (const w of policyWarnings(built)) io.err(`tethered env: warning: ${w}`);
    let shim: string;
    try {
        shim = shimPath();
    } catch (err) {
        io.out(failing((err as Error).message));
        return 1;
    }
    if (!existsSync(shim)) {
        io.out(failing(`tethered env: ${shim} does not exist; nothing exported`));
        return 1;
    }
    const variables = {
        LD_PRELOAD: preloadFirst(shim, process.env.LD_PRELOAD),
        ...policyVariables(built.policy, { mode: values['log-only'] || built.fileMode === 'log' ? 'log' : 'enforce', log: values.log ?? 'stderr' }),
    };
    const missing = `tethered: ${shim} is missing; nothing exported, egress would not be enforced`;
    io.out(`if [ -r ${shellQuote(shim)} ]; then`);
    for (const [key, value] of Object.entries(variables)) io.out(`  export ${key}=${shellQuote(value)}`);
    io.out(`else ${failing(missing)}; fi`);
    return 0;
}
