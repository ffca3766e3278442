/**
 * `tethered run [OPTIONS] -- CMD …`: runs any dynamically linked program with libtethered.so preloaded and
 * the policy in its environment. Every process of the tree logs to one private file that this command
 * follows (events.ts): readable lines on stderr as they happen, JSON lines where --log says, and at the
 * end a summary, the reports CI reads and, with --fail-on-block, a failing status for a block the program
 * swallowed. A bad policy exits 2 before the command starts.
 */
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { uncheckedProgram, uncheckedWarning } from '../exec-check.js';
import type { Io } from './check.js';
import { LogFollower, Tally, describeEvent } from './events.js';
import { launch, launchPlan, splitCommand } from './launch.js';
import { POLICY_OPTIONS, policyFromOptions, policyWarnings } from './policy-options.js';
import { type ReportRequest, parseReport, summaryLines, writeReports } from './reports.js';

/** The status `--fail-on-block` ends with when the command itself exited 0. */
export const BLOCKED_STATUS = 3;

export const RUN_USAGE = `Usage: tethered run [--allow RULE]… [--deny RULE]… [--policy FILE] [--no-config] [--log-only]
                    [--log FILE] [--no-localhost] [--children inherit|none] [--fail-on-block]
                    [--summary blocks|always|never] [--report KIND[=FILE]]… [--strict] -- COMMAND [ARG…]

Runs COMMAND with libtethered.so preloaded: every connect, datagram and name lookup of the command, its
threads and its children is judged against the rules before it leaves. Node processes of the tree also
load tethered's register entry (through NODE_OPTIONS): their callers get EgressBlocked errors, and the
events name the JavaScript file and line that made the attempt.

  --allow RULE        allow rule (repeatable; commas separate several), e.g. '*.stripe.com:443'
  --deny RULE         deny rule (repeatable); deny rules win
  --policy FILE       JSON policy file {"allow", "deny", "allowLocalhost", "mode"}; without it, the first
                      tethered.config.json or package.json "tethered" key from here upward is used
  --no-config         do not look for tethered.config.json / package.json
  --log-only          let everything through, record would-block events
  --log WHERE         also write the events as JSON lines: a file, 'stderr', or 'off' (no event lines at
                      all); without --log, each blocked attempt is one readable line on stderr
  --no-localhost      loopback needs a rule too
  --children none     do not carry the shim and the policy into child processes
  --fail-on-block     exit ${BLOCKED_STATUS} when any process of the tree had an attempt blocked (would-block with
                      --log-only), even one the program caught and ignored, if COMMAND itself exited 0
  --summary WHEN      the end-of-run summary on stderr: 'blocks' (default: when something was blocked),
                      'always', or 'never'
  --report KIND[=FILE]  github: ::error/::warning workflow commands, and a Markdown table appended to
                      $GITHUB_STEP_SUMMARY when it is set; json: one JSON document; junit: JUnit XML, one
                      testcase per destination. Without =FILE, to standard output after COMMAND ends.
  --strict            kernel-enforced: a seccomp supervisor judges every connect and send of COMMAND and
                      all its descendants, static and Go programs included (address rules only: a name
                      rule matches nothing in strict mode yet)

Allowed attempts are counted (in the summary and reports) only with --report or --summary always.

Exit status: the command's own (128+N if a signal N ended it); ${BLOCKED_STATUS} with --fail-on-block when something was
blocked and the command exited 0; 2 for a bad policy or usage, or when strict mode is unavailable on this
system; 127 if COMMAND is not found.`;

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
            options: {
                ...POLICY_OPTIONS,
                'log-only': { type: 'boolean' },
                log: { type: 'string' },
                children: { type: 'string' },
                'fail-on-block': { type: 'boolean' },
                summary: { type: 'string' },
                report: { type: 'string', multiple: true },
                strict: { type: 'boolean' },
            },
        }));
    } catch (err) {
        io.err(`tethered run: ${(err as Error).message}\n\n${RUN_USAGE}`);
        return 2;
    }
    if (values.children !== undefined && values.children !== 'inherit' && values.children !== 'none') {
        io.err("tethered run: --children must be 'inherit' or 'none'");
        return 2;
    }
    const summary = values.summary ?? 'blocks';
    if (summary !== 'blocks' && summary !== 'always' && summary !== 'never') {
        io.err("tethered run: --summary must be 'blocks', 'always' or 'never'");
        return 2;
    }
    const reports: ReportRequest[] = [];
    for (const value of values.report ?? []) {
        const r = parseReport(value);
        if (typeof r === 'string') {
            io.err(`tethered run: ${r}`);
            return 2;
        }
        reports.push(r);
    }
    if (values.log === '') {
        io.err("tethered run: --log needs a file, 'stderr' or 'off'");
        return 2;
    }
    const built = policyFromOptions(values);
    if (typeof built === 'string') {
        io.err(`tethered run: ${built}`);
        return 2;
    }
    if (built.configPath) io.err(`tethered run: policy from ${built.configPath}`);
    for (const w of policyWarnings(built)) io.err(`tethered run: warning: ${w}`);

    if (values.strict && values.children === 'none') {
        io.err('tethered run: --strict covers every descendant; --children none cannot be given with it');
        return 2;
    }
    const mode = values['log-only'] || built.fileMode === 'log' ? 'log' : 'enforce';
    const dir = mkdtempSync(join(tmpdir(), 'tethered-run-'));
    const logPath = join(dir, 'events.jsonl');
    writeFileSync(logPath, '', { mode: 0o600 });
    const tally = new Tally();
    const userLog = values.log;
    const forward = (raw: string, readable: string | null) => {
        if (userLog === undefined) {
            if (readable) io.err(readable);
        } else if (userLog === 'stderr') io.err(raw);
        else if (userLog !== 'off') {
            try {
                appendFileSync(userLog, `${raw}\n`);
            } catch (err) {
                io.err(`tethered run: cannot write to --log ${userLog}: ${(err as Error).message}`);
            }
        }
    };
    const follower = new LogFollower(logPath, (raw, event) => {
        if (!event) {
            forward(raw, null);
            return;
        }
        // A program the shim could not follow: the shim that saw the exec has already said so on stderr.
        if (event.reason === 'unchecked-exec') {
            forward(raw, null);
            return;
        }
        tally.add(event);
        if (event.decision !== 'allow') forward(raw, describeEvent(event));
    });
    let plan;
    try {
        plan = launchPlan(split.command, {
            policy: built.policy,
            mode,
            log: logPath,
            logAllowed: reports.length > 0 || summary === 'always',
            children: values.children === 'none' ? 'none' : 'inherit',
            strict: values.strict === true,
        });
    } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        io.err((err as Error).message);
        return 2;
    }
    // COMMAND itself: no shim is there to see its exec. (Under --strict, tethered-strict says what strict
    // mode changes for a setuid COMMAND.)
    const unchecked = values.strict ? null : uncheckedProgram(split.command[0] ?? '', plan.env.PATH);
    if (unchecked) {
        io.err(uncheckedWarning(unchecked));
        const event = {
            time: new Date().toISOString(),
            pid: process.pid,
            tid: process.pid,
            decision: 'allow',
            op: 'execve',
            protocol: 'exec',
            host: null,
            ip: null,
            port: null,
            rule: null,
            reason: 'unchecked-exec',
            scopeLabel: null,
            exe: process.execPath,
            program: unchecked.program,
            unchecked: unchecked.kind,
        };
        appendFileSync(logPath, `${JSON.stringify(event)}\n`);
    }
    const timer = setInterval(() => {
        follower.poll();
    }, 100);
    let status: number;
    try {
        status = await launch(plan.command, plan.env, io.err);
    } finally {
        clearInterval(timer);
        follower.finish();
        rmSync(dir, { recursive: true, force: true });
    }

    const refused = tally.refused();
    if (summary === 'always' || (summary === 'blocks' && refused.length > 0)) for (const line of summaryLines(tally)) io.err(line);
    let exitCode = status;
    if (values['fail-on-block'] && refused.length > 0) {
        const names = refused.map((t) => t.destination).join(', ');
        io.err(`tethered run: --fail-on-block: ${refused.length} destination${refused.length === 1 ? ' was' : 's were'} ${mode === 'log' ? 'would-block' : 'blocked'}: ${names}`);
        if (status === 0) exitCode = BLOCKED_STATUS;
    }
    writeReports(reports, tally, { command: split.command, mode, status, exitCode }, io, process.env);
    return exitCode;
}
