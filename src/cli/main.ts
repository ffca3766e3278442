#!/usr/bin/env node
/** The `tethered` command: dispatches to one module per subcommand. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHECK_USAGE, type Io, check } from './check.js';
import { env } from './env.js';
import { unknownVariables } from './environment-check.js';
import { learn } from './learn.js';
import { run } from './run.js';

const USAGE = `Usage: tethered <command> [options]

Commands:
  run [OPTIONS] -- CMD …          run any program with the policy enforced on it and its children
  learn [--out FILE] -- CMD …     run in log mode and print the smallest allow list that lets CMD pass
  check [--policy FILE] [RULE…]   validate and normalise rules; warn about over-broad and dead rules
  env [OPTIONS]                   shell lines for eval "$(tethered env --allow …)" that check themselves

Options: --version, --help. Without --policy, run, learn, check and env use the nearest
tethered.config.json, or the "tethered" key of package.json, from the working directory upward.

Run 'tethered <command> --help' for a command's options.`;

const io: Io = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
};

function version(): string {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    return pkg.version;
}

async function main(argv: readonly string[]): Promise<number> {
    const [command, ...rest] = argv;
    if (command === '--version' || command === '-V' || command === 'version') {
        io.out(version());
        return 0;
    }
    if (command === 'run' || command === 'learn' || command === 'check' || command === 'env') {
        for (const warning of unknownVariables(process.env)) io.err(`tethered: ${warning}`);
    }
    switch (command) {
        case 'check':
            return check(rest, io);
        case 'run':
            return run(rest, io);
        case 'learn':
            return learn(rest, io);
        case 'env':
            return env(rest, io);
        case undefined:
        case '--help':
        case '-h':
        case 'help':
            io.out(USAGE);
            return command === undefined ? 2 : 0;
        default:
            io.err(`tethered: unknown command '${command}'\n\n${USAGE}`);
            return 2;
    }
}

void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
});

export { CHECK_USAGE };
