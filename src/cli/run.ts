/**
 * `tethered run [--allow R]… [--deny R]… [--policy FILE] [--log-only] [--log FILE] [--no-localhost]
 * [--children inherit|none] -- CMD …`: runs any dynamically linked program with libtethered.so preloaded
 * and the policy in its environment; exits with the command's own status. A bad policy exits 2 before the
 * command starts.
 */
import { parseArgs } from 'node:util';
import type { Io } from './check.js';
import { launch, launchPlan, splitCommand } from './launch.js';
import { POLICY_OPTIONS, policyFromOptions } from './policy-options.js';

export const RUN_USAGE = `Usage: tethered run [--allow RULE]… [--deny RULE]… [--policy FILE] [--log-only] [--log FILE]
                    [--no-localhost] [--children inherit|none] [--strict] -- COMMAND [ARG…]

Runs COMMAND with libtethered.so preloaded: every connect, datagram and name lookup of the command, its
threads and its children is judged against the rules before it leaves.

  --allow RULE        allow rule (repeatable), e.g. '*.stripe.com:443'
  --deny RULE         deny rule (repeatable); deny rules win
  --policy FILE       JSON policy file {"allow", "deny", "allowLocalhost", "mode"}
  --log-only          let everything through, record would-block events
  --log FILE          where events go (JSON lines): a file, 'stderr' (default) or 'off'
  --no-localhost      loopback needs a rule too
  --children none     do not carry the shim and the policy into child processes
  --strict            kernel-enforced: a seccomp supervisor judges every connect and send of COMMAND and
                      all its descendants, static and Go programs included (address rules only: a name
                      rule matches nothing in strict mode yet)

Exit status: the command's own (128+N if a signal N ended it); 2 for a bad policy or when strict mode is
unavailable on this system; 127 if COMMAND is not found.`;

export async function run(argv: readonly string[], io: Io): Promise<number> {
    const split = splitCommand(argv);
    if (argv.includes('--help') && !split) {
        io.out(RUN_USAGE);
        return 0;
    }
    if (!split) {
        io.err(`tethered run: put -- before the command\n\n${RUN_USAGE}`);
        return 2;
    }
    let values;
    try {
        ({ values } = parseArgs({
            args: split.options,
            options: { ...POLICY_OPTIONS, 'log-only': { type: 'boolean' }, log: { type: 'string' }, children: { type: 'string' }, strict: { type: 'boolean' } },
        }));
    } catch (err) {
        io.err(`tethered run: ${(err as Error).message}\n\n${RUN_USAGE}`);
        return 2;
    }
    if (values.children !== undefined && values.children !== 'inherit' && values.children !== 'none') {
        io.err("tethered run: --children must be 'inherit' or 'none'");
        return 2;
    }
    const built = policyFromOptions(values);
    if (typeof built === 'string') {
        io.err(`tethered run: ${built}`);
        return 2;
    }
    if (values.strict && values.children === 'none') {
        io.err('tethered run: --strict covers every descendant; --children none cannot be given with it');
        return 2;
    }
    let plan;
    try {
        plan = launchPlan(split.command, {
            policy: built.policy,
            mode: values['log-only'] || built.fileMode === 'log' ? 'log' : 'enforce',
            log: values.log ?? 'stderr',
            children: values.children === 'none' ? 'none' : 'inherit',
            strict: values.strict === true,
        });
    } catch (err) {
        io.err((err as Error).message);
        return 2;
    }
    return launch(plan.command, plan.env, io.err);
}
