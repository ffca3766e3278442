#!/usr/bin/env node
/** The `tethered` command: dispatches to one module per subcommand. */
import { CHECK_USAGE, type Io, check } from './check.js';

const USAGE = `Usage: tethered <command> [options]

Commands:
  check [--policy FILE] [RULE…]   validate and normalise rules; warn about over-broad and dead rules

Run 'tethered <command> --help' for a command's options.`;

const io: Io = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
};

function main(argv: readonly string[]): number {
    const [command, ...rest] = argv;
    switch (command) {
        case 'check':
            return check(rest, io);
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

process.exitCode = main(process.argv.slice(2));

export { CHECK_USAGE };
