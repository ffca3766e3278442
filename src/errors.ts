/** The errors the public API throws and the events it reports (docs/rules.md, What a block looks like). */

/** Why an attempt was decided so: the shim's reasons and the TypeScript engine's (policy/policy.ts). */
export type EgressReason = 'allow-rule' | 'localhost' | 'deny-rule' | 'no-rule' | 'invalid-host' | 'invalid-policy' | 'internal-error' | 'raw-socket' | 'unchecked-exec';

/** The call that made the attempt: a libc function the shim hooks, a raw system call, or a Node dns function. */
export type EgressOp =
    | 'connect'
    | 'sendto'
    | 'sendmsg'
    | 'sendmmsg'
    // bytes on a connected socket, judged for a scope (and DNS a program writes itself)
    | 'send'
    | 'write'
    | 'writev'
    | 'pwritev'
    | 'pwritev2'
    | 'sendfile'
    | 'splice'
    | 'http2.request'
    | 'getaddrinfo'
    | 'getaddrinfo_a'
    | 'gethostbyname'
    | 'gethostbyname2'
    | 'gethostbyname_r'
    | 'gethostbyname2_r'
    | 'gethostbyaddr'
    | 'gethostbyaddr_r'
    | 'getnameinfo'
    | 'res_query'
    | 'res_search'
    | 'res_querydomain'
    | 'res_send'
    | 'res_nquery'
    | 'res_nsearch'
    | 'res_nquerydomain'
    | 'res_nsend'
    | 'execve'
    | 'execvp'
    | 'execveat'
    | 'fexecve'
    | 'posix_spawn'
    | 'posix_spawnp'
    | `syscall(${string})`
    | `dns.${string}`;

/** One outbound attempt, as the shim recorded it. */
export interface EgressEvent {
    readonly time: string;
    readonly pid: number;
    readonly tid: number;
    readonly decision: 'block' | 'would-block' | 'allow';
    readonly op: EgressOp;
    /** 'exec' for an unchecked-exec event: a program the libc layer cannot follow was started. */
    readonly protocol: 'tcp' | 'udp' | 'dns' | 'exec';
    readonly host: string | null;
    readonly ip: string | null;
    readonly port: number | null;
    /** The rule that would allow it (blocked for want of a rule), the deny rule that won, or the rule that allowed it. */
    readonly rule: string | null;
    readonly reason: EgressReason;
    readonly scopeLabel: string | null;
    readonly exe: string;
    /** This process's event number (events from the shim). */
    readonly seq?: number;
    readonly url?: string;
    readonly stack?: string;
    readonly nativeStack?: readonly string[];
    /** unchecked-exec: the program started (after `#!`), which runs with its network calls unchecked. */
    readonly program?: string;
    /** unchecked-exec: why the libc layer cannot follow it; strict mode (`tethered run --strict`) can. */
    readonly unchecked?: 'static' | 'foreign-elf' | 'setuid' | 'setgid' | 'file-capabilities';
    /** 'strict' for an event of the strict supervisor (activate({ strict: true }), tethered run --strict); absent for the libc layer's. */
    readonly layer?: 'strict';
}

function destination(e: Pick<EgressEvent, 'host' | 'ip' | 'port'>): string {
    const target = e.host ?? (e.ip?.includes(':') ? `[${e.ip}]` : (e.ip ?? 'unknown'));
    const withPort = e.port !== null ? `${target}:${e.port}` : target;
    return e.host && e.ip ? `${withPort} (${e.ip})` : withPort;
}

/** What a caller gets when tethered blocked its attempt. */
export class EgressBlocked extends Error {
    readonly code = 'ERR_EGRESS_BLOCKED';
    readonly host: string | null;
    readonly ip: string | null;
    readonly port: number | null;
    readonly protocol: EgressEvent['protocol'];
    /** The rule that would allow it (null when a deny rule blocked it). */
    readonly rule: string | null;
    readonly scopeLabel: string | null;
    readonly event: EgressEvent;

    constructor(event: EgressEvent, options?: { cause?: unknown }) {
        const denied = event.reason === 'deny-rule';
        const why = denied
            ? `is denied by '${event.rule ?? ''}'`
            : event.reason === 'invalid-policy' || event.reason === 'internal-error'
              ? `cannot be checked (${event.reason})`
              : `is not in the allow list${event.rule ? ` — allow it with '${event.rule}'` : ''}`;
        super(`Blocked by tethered: ${destination(event)} ${why}`, options);
        this.name = 'EgressBlocked';
        this.host = event.host;
        this.ip = event.ip;
        this.port = event.port;
        this.protocol = event.protocol;
        this.rule = denied ? null : event.rule;
        this.scopeLabel = event.scopeLabel;
        this.event = event;
    }
}

/** activate()/deactivate() on a locked policy without its lock token. */
export class TetheredLocked extends Error {
    readonly code = 'ERR_TETHERED_LOCKED';

    /** `strict`: a locked strict policy, which nothing changes for the life of the process, not even its lockToken. */
    constructor(what: string, strict = false) {
        super(
            strict
                ? `tethered: the strict policy is locked for the life of this process; ${what} cannot change it, even with the lockToken`
                : `tethered: the policy is locked; ${what} needs the lockToken it was locked with`,
        );
        this.name = 'TetheredLocked';
    }
}

function describe(e: EgressEvent): string {
    const what = e.reason === 'deny-rule' ? `denied by '${e.rule ?? ''}'` : e.rule ? `allow it with '${e.rule}'` : e.reason;
    const where = e.url ? ` ${e.url}` : '';
    return `${e.decision} ${e.protocol} ${destination(e)}${where} (${e.op}; ${what})`;
}

/** noEgress(): attempts inside it that the rules did not allow, each with its evidence. */
export class EgressViolation extends Error {
    readonly code = 'ERR_EGRESS_VIOLATION';
    /** Every blocked (or, in log-only mode, would-block) attempt, in the order they were made. */
    readonly events: readonly EgressEvent[];
    readonly scopeLabel: string | null;

    constructor(events: readonly EgressEvent[], scopeLabel: string | null, options?: { cause?: unknown }) {
        const n = events.length;
        const lines = events.map((e) => `  - ${describe(e)}`).join('\n');
        super(`tethered: ${n} network attempt${n === 1 ? ' was' : 's were'} not allowed inside ${scopeLabel ? `'${scopeLabel}'` : 'noEgress()'}:\n${lines}`, options);
        this.name = 'EgressViolation';
        this.events = Object.freeze([...events]);
        this.scopeLabel = scopeLabel;
    }
}

/**
 * Is `err`, or any error in its `cause` chain, a block by tethered? Works across realms and copies of the
 * package (a test runner's module registry, a vm context, another install): it looks at the error's
 * `code` and fields, never at its class. The EgressBlocked-shaped error found, or false.
 */
export function isEgressBlocked(err: unknown): err is EgressBlocked {
    return blockedIn(err) !== null;
}

/** The first EgressBlocked-shaped error in `err`'s cause chain (cycles and depth bounded), or null. */
export function blockedIn(err: unknown): EgressBlocked | null {
    const seen = new Set<unknown>();
    for (let e = err; e !== null && typeof e === 'object' && !seen.has(e) && seen.size < 32; e = (e as { cause?: unknown }).cause) {
        seen.add(e);
        const o = e as Partial<Record<'code' | 'host' | 'ip' | 'port' | 'event', unknown>>;
        if (o.code === 'ERR_EGRESS_BLOCKED' && 'host' in o && 'ip' in o && 'port' in o && typeof o.event === 'object' && o.event !== null) {
            return e as EgressBlocked;
        }
    }
    return null;
}
