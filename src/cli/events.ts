/**
 * The events of a whole process tree, as `tethered run` collects them: every process under the shim appends
 * JSON lines to one private log file (TETHERED_LOG), which the CLI follows while the command runs and reads
 * to the end after it exits. The file, not a pipe: a child that closes or redirects its inherited
 * descriptors still logs, and the shim opens the path afresh in every process.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** One line of the shim's log: the EgressEvent fields the CLI uses. */
export interface LoggedEvent {
    readonly pid: number;
    readonly decision: 'block' | 'would-block' | 'allow';
    readonly op: string;
    readonly protocol: string;
    readonly host: string | null;
    readonly ip: string | null;
    readonly port: number | null;
    /** For a block: the rule that would allow it (or the deny rule that won); for an allow: the rule that matched. */
    readonly rule: string | null;
    readonly reason: string;
    readonly exe: string | null;
    /** The shim's event number in that process: the key JavaScript's evidence lines carry. */
    readonly seq?: number;
    /** JavaScript's evidence, joined from an evidence line (run-register.ts): the caller's stack and URL. */
    readonly stack?: string;
    readonly url?: string;
}

/** An evidence line: what a Node process of the tree knows about one of its own events. */
interface EvidenceLine {
    readonly evidence: true;
    readonly pid: number;
    readonly seq: number;
    readonly stack?: string;
    readonly url?: string;
}

interface Held {
    readonly raw: string;
    readonly event: LoggedEvent;
    readonly poll: number;
    extra: { stack?: string; url?: string } | null;
}

/**
 * Follows a growing JSON-lines file; hands each complete line, raw and parsed, to `onLine`. An event is held
 * until the next poll, so that the evidence line its Node process writes right after (the caller's stack)
 * is joined to it: the raw line handed on then has the `stack` and `url` fields too. Evidence that comes
 * later than that is dropped; the event went out without it.
 */
export class LogFollower {
    private offset = 0;
    private partial = '';
    private readonly fd: number;
    private polls = 0;
    private readonly held = new Map<string, Held>();

    constructor(
        path: string,
        private readonly onLine: (raw: string, event: LoggedEvent | null) => void,
    ) {
        this.fd = openSync(path, 'r');
    }

    /** Reads whatever was appended since the last call. */
    poll(): void {
        const size = fstatSync(this.fd).size;
        if (size <= this.offset) return;
        const buf = Buffer.alloc(size - this.offset);
        const n = readSync(this.fd, buf, 0, buf.length, this.offset);
        this.offset += n;
        const text = this.partial + buf.subarray(0, n).toString('utf8');
        const lines = text.split('\n');
        this.partial = lines.pop() ?? '';
        for (const line of lines) if (line) this.take(line);
        this.release(false);
    }

    /** Reads to the end, including a last line without its newline, and closes the file. */
    finish(): void {
        this.poll();
        if (this.partial) this.take(this.partial);
        this.partial = '';
        this.release(true);
        closeSync(this.fd);
    }

    private take(line: string): void {
        const value = parse(line);
        if (value && 'evidence' in value) {
            const held = this.held.get(`${value.pid}:${value.seq}`);
            if (held) held.extra = { ...(value.stack !== undefined && { stack: value.stack }), ...(value.url !== undefined && { url: value.url }) };
            return;
        }
        if (value && typeof value.seq === 'number') {
            const key = `${value.pid}:${value.seq}`;
            // A second line with the same process and number never replaces the first: a program can append
            // to the log, and a forged 'allow' must not take the place of its own block (both count).
            if (!this.held.has(key)) {
                this.held.set(key, { raw: line, event: value, poll: this.polls, extra: null });
                return;
            }
        }
        this.onLine(line, value);
    }

    /** Hands on the events held since an earlier poll (all of them at the end), with their evidence. */
    private release(all: boolean): void {
        for (const [key, held] of this.held) {
            if (!all && held.poll >= this.polls) break; // held in insertion order: the rest are newer
            this.held.delete(key);
            if (!held.extra) this.onLine(held.raw, held.event);
            else {
                const event = { ...held.event, ...held.extra };
                this.onLine(JSON.stringify({ ...(JSON.parse(held.raw) as object), ...held.extra }), event);
            }
        }
        this.polls++;
    }
}

function parse(line: string): LoggedEvent | EvidenceLine | null {
    try {
        const value = JSON.parse(line) as unknown;
        if (typeof value !== 'object' || value === null) return null;
        if ('decision' in value) return value as LoggedEvent;
        if ('evidence' in value && typeof (value as EvidenceLine).seq === 'number') return value as EvidenceLine;
        return null;
    } catch {
        return null;
    }
}

/**
 * The first frame of a JavaScript stack that is not Node's own (`node:net`), without its `at `: where the
 * caller's code made the attempt.
 */
export function firstFrame(stack: string | undefined): string | null {
    const frames = (stack ?? '').split('\n').map((l) => l.trim().replace(/^at /, '')).filter((l) => l !== '');
    return frames.find((f) => !/(^|\()node:/.test(f)) ?? frames[0] ?? null;
}

/** `host:port`, `ip:port` (`[v6]:port`), or the bare name of a lookup. */
export function destinationOf(e: LoggedEvent): string {
    const target = e.host ?? (e.ip?.includes(':') && e.port !== null ? `[${e.ip}]` : (e.ip ?? '?'));
    return e.port === null ? target : `${target}:${e.port}`;
}

/** One readable line for a terminal. */
export function describeEvent(e: LoggedEvent): string {
    const verb = e.decision === 'block' ? 'blocked' : e.decision === 'would-block' ? 'would block' : 'allowed';
    const address = e.host && e.ip ? ` (${e.ip})` : '';
    const who = e.exe ? ` by ${e.exe} [pid ${e.pid}]` : ` [pid ${e.pid}]`;
    let why = '';
    if (e.decision !== 'allow') {
        if (e.reason === 'deny-rule' && e.rule) why = `: denied by '${e.rule}'`;
        else if (e.reason === 'invalid-host') why = ': not a valid host name';
        else if (e.rule) why = `: allow it with '${e.rule}'`;
    }
    const frame = firstFrame(e.stack);
    const where = frame ? ` at ${frame}` : '';
    return `tethered: ${verb} ${e.protocol} ${destinationOf(e)}${address}${who}${where}${why}`;
}

/** Attempts grouped by destination: what the summary and every report are made of. */
export interface DestinationTally {
    readonly destination: string;
    readonly protocol: string;
    readonly host: string | null;
    readonly port: number | null;
    readonly addresses: Set<string>;
    /** The rule that allows it (the one that matched, or the one that would), when the shim named one. */
    rule: string | null;
    /** Set when a deny rule blocked it: no allow rule helps. */
    deniedBy: string | null;
    attempts: number;
    blocked: number;
    wouldBlock: number;
    allowed: number;
    readonly processes: Set<string>;
    /** The first JavaScript frame of the first attempt that had one (a Node caller under the register entry). */
    where: string | null;
}

export class Tally {
    readonly byDestination = new Map<string, DestinationTally>();
    events = 0;

    add(e: LoggedEvent): void {
        this.events++;
        const destination = destinationOf(e);
        const key = `${e.protocol} ${destination}`;
        let t = this.byDestination.get(key);
        if (!t) {
            t = {
                destination,
                protocol: e.protocol,
                host: e.host,
                port: e.port,
                addresses: new Set(),
                rule: null,
                deniedBy: null,
                attempts: 0,
                blocked: 0,
                wouldBlock: 0,
                allowed: 0,
                processes: new Set(),
                where: null,
            };
            this.byDestination.set(key, t);
        }
        t.attempts++;
        if (e.ip) t.addresses.add(e.ip);
        if (e.exe) t.processes.add(e.exe);
        t.where ??= firstFrame(e.stack);
        if (e.decision === 'block') t.blocked++;
        else if (e.decision === 'would-block') t.wouldBlock++;
        else t.allowed++;
        if (e.reason === 'deny-rule') t.deniedBy = e.rule;
        else if (e.rule && e.reason !== 'localhost') t.rule ??= e.rule;
    }

    /** Destinations, those with blocks first, then by name. */
    rows(): DestinationTally[] {
        return [...this.byDestination.values()].sort(
            (a, b) => Number(b.blocked + b.wouldBlock > 0) - Number(a.blocked + a.wouldBlock > 0) || a.destination.localeCompare(b.destination) || a.protocol.localeCompare(b.protocol),
        );
    }

    /** Destinations with at least one block or would-block. */
    refused(): DestinationTally[] {
        return this.rows().filter((t) => t.blocked + t.wouldBlock > 0);
    }
}
