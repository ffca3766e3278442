/**
 * What `tethered run` says about a finished run: the summary on stderr, and the reports CI systems read
 * (`--report github|json|junit[=FILE]`). All of them are made from the same Tally; all pure but the writer.
 */
import { appendFileSync, writeFileSync } from 'node:fs';
import { relative, isAbsolute } from 'node:path';
import type { DestinationTally, Tally } from './events.js';

export type ReportKind = 'github' | 'json' | 'junit';

export interface ReportRequest {
    readonly kind: ReportKind;
    /** Where it goes; null: standard output. */
    readonly file: string | null;
}

export interface RunOutcome {
    readonly command: readonly string[];
    readonly mode: 'enforce' | 'log';
    /** The command's own exit status. */
    readonly status: number;
    /** The status tethered exits with (differs with --fail-on-block). */
    readonly exitCode: number;
}

/** Parses `KIND` or `KIND=FILE`; an error message when it is neither. */
export function parseReport(value: string): ReportRequest | string {
    const at = value.indexOf('=');
    const kind = at < 0 ? value : value.slice(0, at);
    const file = at < 0 ? null : value.slice(at + 1);
    if (kind !== 'github' && kind !== 'json' && kind !== 'junit') return `--report must be github, json or junit (optionally =FILE), not '${value}'`;
    if (file === '') return `--report ${kind}= needs a file name after '='`;
    return { kind, file };
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function refusedCount(t: DestinationTally): number {
    return t.blocked + t.wouldBlock;
}

function fix(t: DestinationTally): string {
    if (t.deniedBy) return `denied by '${t.deniedBy}'`;
    if (t.rule) return refusedCount(t) > 0 ? `allow with '${t.rule}'` : `rule '${t.rule}'`;
    return '';
}

/** The end-of-run summary: one line per destination. */
export function summaryLines(tally: Tally): string[] {
    const rows = tally.rows();
    const refused = tally.refused();
    const blocked = refused.reduce((n, t) => n + refusedCount(t), 0);
    const lines = [
        `tethered: ${plural(tally.events, 'network attempt')} to ${plural(rows.length, 'destination')}; ${blocked} blocked at ${plural(refused.length, 'destination')}`,
    ];
    const width = Math.min(48, Math.max(0, ...rows.map((t) => t.destination.length + t.protocol.length + 3)));
    for (const t of rows) {
        const what = `${t.destination} (${t.protocol})`.padEnd(width);
        const counts = [t.blocked ? `${t.blocked} blocked` : '', t.wouldBlock ? `${t.wouldBlock} would block` : '', t.allowed ? `${t.allowed} allowed` : '']
            .filter(Boolean)
            .join(', ');
        const status = refusedCount(t) > 0 ? (t.blocked > 0 ? 'BLOCKED' : 'WOULD  ') : 'allowed';
        lines.push(`  ${status}  ${what}  ${counts}${fix(t) ? `  ${fix(t)}` : ''}`);
    }
    return lines;
}

/** Escapes for workflow command data and properties (GitHub's own rules: %, CR, LF; and : , in properties). */
const ghData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const ghProperty = (s: string) => ghData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** The file and line of a stack frame (`fn (/path/file.js:4:17)`, `file:///path/file.mjs:4:17`), or null. */
export function frameLocation(frame: string | null): { file: string; line: number } | null {
    const m = frame ? /\(?((?:file:\/\/)?[^()\s]+):(\d+):\d+\)?$/.exec(frame) : null;
    const [, path = '', line = '0'] = m ?? [];
    const file = path.startsWith('file://') ? decodeURIComponent(path.slice('file://'.length)) : path;
    return isAbsolute(file) ? { file, line: Number(line) } : null;
}

/**
 * `::error` for each blocked destination (`::warning` for a would-block under --log-only), naming the
 * destination, the processes and the rule. `file=` (and `line=`) is where the JavaScript caller made the
 * attempt when a Node process of the tree said so (run-register.ts), else the executable, when it lies
 * inside the workspace, so that GitHub can attach the annotation to a file of the repository.
 */
export function githubCommands(tally: Tally, workspace: string): string[] {
    return tally.refused().map((t) => {
        const level = t.blocked > 0 ? 'error' : 'warning';
        const exes = [...t.processes];
        const within = (path: string) => {
            const r = relative(workspace, path);
            return r && !r.startsWith('..') && !isAbsolute(r) ? r : null;
        };
        const caller = frameLocation(t.where);
        const callerFile = caller ? within(caller.file) : null;
        const inside = callerFile ?? exes.map(within).find((r) => r !== null);
        const props = [inside ? `file=${ghProperty(inside)}` : '', caller && callerFile ? `line=${caller.line}` : '', `title=${ghProperty(`tethered: ${level === 'error' ? 'blocked' : 'would block'} ${t.destination}`)}`].filter(Boolean).join(',');
        const by = exes.length ? ` by ${exes.join(', ')}` : '';
        const count = `${refusedCount(t)} ${level === 'error' ? 'blocked' : 'would-block'} attempt${refusedCount(t) === 1 ? '' : 's'}`;
        const hint = t.deniedBy ? `denied by rule '${t.deniedBy}'` : t.rule ? `allow it with '${t.rule}'` : 'no rule can allow it';
        return `::${level} ${props}::${ghData(`${t.protocol} ${t.destination}: ${count}${by} — ${hint}`)}`;
    });
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The Markdown for $GITHUB_STEP_SUMMARY: a table of attempts per destination. */
export function markdownSummary(tally: Tally, outcome: RunOutcome): string {
    const refused = tally.refused();
    const head = refused.length
        ? `### tethered: ${plural(refused.length, 'destination')} blocked`
        : '### tethered: no destination blocked';
    const lines = [
        head,
        '',
        `\`${mdCell(outcome.command.join(' '))}\` exited ${outcome.status}; ${plural(tally.events, 'network attempt')} (${outcome.mode} mode).`,
        '',
    ];
    if (tally.events === 0) return `${lines.join('\n')}\n`;
    lines.push('| Destination | Protocol | Attempts | Blocked | Allowed | Processes | Rule |', '|---|---|---:|---:|---:|---|---|');
    for (const t of tally.rows()) {
        const rule = t.deniedBy ? `denied by \`${mdCell(t.deniedBy)}\`` : t.rule ? `\`${mdCell(t.rule)}\`` : '';
        lines.push(
            `| ${refusedCount(t) ? '❌ ' : ''}\`${mdCell(t.destination)}\` | ${t.protocol} | ${t.attempts} | ${refusedCount(t)} | ${t.allowed} | ${mdCell([...t.processes].join(', '))} | ${rule} |`,
        );
    }
    return `${lines.join('\n')}\n\n`;
}

/** The JSON report: one document. */
export function jsonReport(tally: Tally, outcome: RunOutcome): string {
    const refused = tally.refused();
    return `${JSON.stringify(
        {
            command: outcome.command,
            mode: outcome.mode,
            status: outcome.status,
            exitCode: outcome.exitCode,
            attempts: tally.events,
            blocked: refused.reduce((n, t) => n + refusedCount(t), 0),
            destinations: tally.rows().map((t) => ({
                destination: t.destination,
                protocol: t.protocol,
                host: t.host,
                addresses: [...t.addresses],
                port: t.port,
                attempts: t.attempts,
                blocked: t.blocked,
                wouldBlock: t.wouldBlock,
                allowed: t.allowed,
                rule: t.deniedBy ? null : t.rule,
                deniedBy: t.deniedBy,
                processes: [...t.processes],
            })),
        },
        null,
        2,
    )}\n`;
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** JUnit XML: one testcase per destination, a failure for each one that was blocked (or would be). */
export function junitReport(tally: Tally, outcome: RunOutcome): string {
    const rows = tally.rows();
    const failures = tally.refused().length;
    const name = xml(`tethered run ${outcome.command.join(' ')}`);
    const cases = rows.map((t) => {
        const head = `    <testcase classname="tethered.${xml(t.protocol)}" name="${xml(t.destination)}">`;
        if (!refusedCount(t)) return `${head}</testcase>`;
        const hint = t.deniedBy ? `denied by rule '${t.deniedBy}'` : t.rule ? `allow it with '${t.rule}'` : 'no rule can allow it';
        const message = `${refusedCount(t)} of ${t.attempts} attempts ${t.blocked ? 'blocked' : 'would be blocked'} — ${hint}`;
        const body = `processes: ${[...t.processes].join(', ')}\naddresses: ${[...t.addresses].join(', ')}`;
        return `${head}\n      <failure type="${t.blocked ? 'blocked' : 'would-block'}" message="${xml(message)}">${xml(body)}</failure>\n    </testcase>`;
    });
    return [
        '<?xml version="1.0" encoding="UTF-8"?>',
        `<testsuites name="tethered" tests="${rows.length}" failures="${failures}">`,
        `  <testsuite name="${name}" tests="${rows.length}" failures="${failures}" errors="0">`,
        ...cases,
        '  </testsuite>',
        '</testsuites>',
        '',
    ].join('\n');
}

/** Writes the requested reports; a file that cannot be written is said on stderr, never fatal. */
export function writeReports(requests: readonly ReportRequest[], tally: Tally, outcome: RunOutcome, io: { out: (s: string) => void; err: (s: string) => void }, env: NodeJS.ProcessEnv): void {
    for (const r of requests) {
        let text: string;
        if (r.kind === 'github') {
            text = githubCommands(tally, env.GITHUB_WORKSPACE ?? process.cwd())
                .map((l) => `${l}\n`)
                .join('');
            const summaryFile = env.GITHUB_STEP_SUMMARY;
            if (summaryFile) {
                try {
                    appendFileSync(summaryFile, markdownSummary(tally, outcome));
                } catch (err) {
                    io.err(`tethered run: cannot append to GITHUB_STEP_SUMMARY (${summaryFile}): ${(err as Error).message}`);
                }
            }
        } else text = r.kind === 'json' ? jsonReport(tally, outcome) : junitReport(tally, outcome);
        if (r.file === null) {
            if (text) io.out(text.replace(/\n$/, ''));
            continue;
        }
        try {
            writeFileSync(r.file, text);
        } catch (err) {
            io.err(`tethered run: cannot write the ${r.kind} report to ${r.file}: ${(err as Error).message}`);
        }
    }
}
