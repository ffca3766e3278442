/**
 * Finds the native binaries: the addon (a local build in build/Release first, else the prebuilt one in
 * prebuilds/<platform>-<arch>/), and libtethered.so beside whichever addon was chosen, so that the two always
 * come from the same build. The package has no install script: the prebuilt binaries are found here at run
 * time, and a build from source (build/Release) is only the fallback where none matches.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface NativeSettings {
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    readonly allowLocalhost: boolean;
    readonly logOnly: boolean;
    readonly failClosed: boolean;
    readonly childrenInherit: boolean;
    /** children: 'strict': every exec runs under its own tethered-strict with the `inject` policy */
    readonly childrenStrict?: boolean;
    /** 'off' (events only to onEvents), 'stderr', or a file path */
    readonly log: string;
    /** "TETHERED_…=value" strings every child process gets */
    readonly inject: readonly string[];
}

/** The addon: the bridge to libtethered.so. */
export interface Addon {
    readonly abi: number;
    readonly version: string;
    /** Loads the shim (or finds the one in the process: preloaded, or loaded by another copy); `path` is the one in use. */
    load(path: string): { preloaded: boolean; path?: string };
    /**
     * Replaces the policy in force; throws with the shim's reason. With `locked`, the shim locks it to
     * `lockToken`: only a later call passing that very object changes it (an Error with code
     * ERR_TETHERED_LOCKED otherwise, whoever calls).
     */
    configure(settings: NativeSettings, lockToken: object | null, locked: boolean, handler?: ((line: string) => void) | null, description?: string, strict?: StrictSettings): void;
    /** Changes whenever a policy is put in force or lifted through this addon (any copy, any thread). */
    generation(): number;
    /** The next number of the process's event sequence, which the shim's events take theirs from too. */
    eventSeq(): number;
    /**
     * 4 bytes over the shim's copy of its count of configurations put in force (null where this Node allows
     * no buffer over outside memory): read without a call, it tells whether answers of decide() kept in
     * JavaScript still hold. A copy: writing to it changes no decision.
     */
    decideGeneration(): ArrayBuffer | null;
    /** No policy of this process's own in force (the environment's, if any, stays); needs the lockToken. */
    disable(lockToken: object | null): void;
    /** Compiles the rules into a policy image (or finds it); returns the TETHERED_POLICY_IMAGE value. */
    writePolicyImage(rules: { allow: readonly string[]; deny: readonly string[]; allowLocalhost: boolean }): string;
    /** Does the shim judge attempts now (activate(), or a policy from the environment)? */
    active(): boolean;
    /** What the shim has in force, whoever put it there. */
    status(): NativeStatus;
    /** Points every loaded object's GOT entries at the hooks; returns the slots patched so far. */
    patch(): number;
    /** Every event line (JSON) goes to `fn`, asynchronously, on the JavaScript thread; false when a locked policy keeps another sink. */
    onEvents(fn: (line: string) => void): boolean;
    /** The last event line made on the calling thread, or null; forgets it. */
    takeLastEvent(): string | null;
    /** Compiles a scope (rules in normal form) under `parent`; throws with the shim's reason. */
    scopeNew(rules: { allow: readonly string[]; deny: readonly string[]; allowLocalhost: boolean }, label: string, parent: NativeScope | null, collect: boolean): NativeScope;
    /**
     * The shim's own decision for `host` on `port` (-1 or null: a name lookup), by the layers asked for
     * (DECIDE_*): null when allowed, else why not. The one authority at run time (docs/rules.md).
     */
    decide(host: string, port: number | null, scope: NativeScope | null, layers: number): NativeRefusal | null;
    scopeId(scope: NativeScope): number;
    /** `current` answers the shim, when a hook on the calling thread judges an attempt, which scope this thread's JavaScript is in. */
    scopeSource(current: () => NativeScope | null): void;
    /**
     * 4 bytes over the calling thread's word of the shim (null where this Node allows no buffer over outside
     * memory): written around one native call whose scope the JavaScript knows, 1 for none or what
     * scopeEnter() returned, and 0 after it, it spares the shim asking scopeSource's function.
     */
    scopeWord(): ArrayBuffer | null;
    /** Puts `scope` in the calling thread's slot (held until the next call); returns its number for scopeWord. */
    scopeEnter(scope: NativeScope | null): number;
    /** What is written on connected socket `fd` (http2: an HTTP/2 request's frames), judged now by the scope the word says: 0 or EACCES. */
    checkPeer(fd: number, http2?: boolean): number;
    /** Settings (JSON) for the JavaScript of worker threads; '' for none. */
    shareSettings(json: string): void;
    sharedSettings(): string | null;
    /** Keep the events of attempts made in collecting `scope` (the object, never a number: see addon.cc) ... */
    collect(scope: NativeScope): void;
    /** ... until this returns them (event lines) and stops keeping them. */
    takeCollected(scope: NativeScope): string[];
}

/**
 * activate({ strict: true }): the policy for the supervisor (TETHERED_* lines), and with `start` (the path of
 * tethered-strict) the supervisor is started and the filter loaded into this process. Once one runs, every
 * configure() sends it the new policy (under its own lock) and disable() tells it to let everything through.
 */
export interface StrictSettings {
    readonly policy: readonly string[];
    readonly start?: string | undefined;
}

export interface NativeStatus {
    readonly active: boolean;
    readonly mode: 'enforce' | 'log' | 'off';
    readonly locked: boolean;
    readonly preloaded: boolean;
    /** The mode of the policy from the environment (a ceiling), or null when there is none. */
    readonly ceiling: 'enforce' | 'log' | null;
    /** What the JavaScript that put the policy in force said of it (JSON), or null when none is. */
    readonly description: string | null;
    readonly generation: number;
    /** activate({ strict: true }) put this process under the filter (for its lifetime). */
    readonly strict: boolean;
    readonly supervisorPid: number;
}

/** decide() layers: the policy in force (with the environment's above it), the scope chain given, and
 * whether the question is a name lookup (numeric names and this machine's name are not judged then). */
export const DECIDE_POLICY = 1;
export const DECIDE_SCOPES = 2;
export const DECIDE_LOOKUP = 4;

/** Why the shim would refuse an attempt. */
export interface NativeRefusal {
    readonly reason: 'deny-rule' | 'no-rule' | 'invalid-host';
    /** deny-rule: the deny rule; no-rule: the rule that would allow it; else null. */
    readonly rule: string | null;
    /** The name in normal form (null for an address, or text that is no DNS name). */
    readonly host: string | null;
    /** The id of the scope that refused (scopeId), or 0: the policy in force. */
    readonly scope: number;
    /** The refusing layer only reports (log mode). */
    readonly logOnly: boolean;
}

/**
 * Asks the compiled native policy (see Addon.decide). Wrong arguments are a TypeError from the addon; a
 * port outside -1..65535 or not an integer is a RangeError here.
 */
export function nativeDecide(addon: Addon, host: string, port: number | null, scope: NativeScope | null, layers: number): NativeRefusal | null {
    if (port !== null && (!Number.isInteger(port) || port < -1 || port > 65535)) throw new RangeError(`A port must be an integer from 0 to 65535, got ${String(port)}`);
    return addon.decide(host, port, scope, layers);
}

/** A compiled scope, owned by the addon (freed when the last reference goes). */
export type NativeScope = object & { readonly __nativeScope: unique symbol };

/** A word of native memory the addon hands out as a 4-byte buffer (decideGeneration, scopeWord), or null where it cannot. */
export function wordView(make: () => ArrayBuffer | null): Uint32Array | null {
    try {
        const buffer = make();
        return buffer ? new Uint32Array(buffer) : null;
    } catch {
        return null;
    }
}

export interface NativeBinaries {
    readonly addonPath: string;
    readonly shimPath: string;
    readonly addon: Addon;
}

const PACKAGE_ROOT = join(__dirname, '..');
let cached: NativeBinaries | null = null;

/**
 * A number of the process's one event sequence for an event made in JavaScript (undefined before the addon
 * is loaded): events of both origins then sort in the order they were made, even within one millisecond.
 */
export function nextEventSeq(): number | undefined {
    return cached?.addon.eventSeq();
}

/** The libtethered.so mapped into this process already (preloaded, or loaded by any copy of tethered), or null. */
export function loadedShim(): string | null {
    let maps: string;
    try {
        maps = readFileSync('/proc/self/maps', 'latin1');
    } catch {
        return null;
    }
    for (const line of maps.split('\n')) {
        const at = line.indexOf('/');
        // libtethered.so, or a copy of it under another name (a versioned or sanitizer build)
        if (at > 0 && /\/libtethered[^/]*\.so$/.test(line)) return line.slice(at);
    }
    return null;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const requireAddon = (path: string): Addon => require(path) as Addon;

/**
 * The addon beside the libtethered.so already in the process, when another copy of tethered (another
 * install, another path) loaded it and it is of this very build: one addon then holds the lock, the
 * description of the policy and the event handler for every copy (docs/rules.md, One process, one policy).
 */
function addonOfLoadedShim(own: string, mine: Addon): NativeBinaries | null {
    const shim = loadedShim();
    if (!shim || dirname(shim) === dirname(own)) return null;
    const beside = join(dirname(shim), basename(own));
    if (!existsSync(beside)) return null;
    try {
        const other = requireAddon(beside);
        if (other.abi !== mine.abi || other.version !== mine.version || typeof other.generation !== 'function') return null;
        return { addonPath: beside, shimPath: shim, addon: other };
    } catch {
        return null;
    }
}

/** The C library this Node runs on: what a prebuilt binary must have been linked against. */
export type Libc = 'glibc' | 'musl' | 'unknown';

/**
 * Which C library the process runs on, from the objects mapped into it (`maps`: /proc/self/maps; the
 * loader's and libc's names tell) or, when they do not, Node's diagnostic report, whose header names a glibc
 * version only on glibc. Both are parameters so that a test can stand in another machine's.
 */
export function detectLibc(maps: string | null = readMaps(), reportHeader: () => { glibcVersionRuntime?: string } = defaultReportHeader): Libc {
    if (maps !== null) {
        if (/\/ld-musl-[^/\s]*\.so|\/libc\.musl-[^/\s]*\.so/.test(maps)) return 'musl';
        if (/\/(?:ld-linux[^/\s]*\.so\.\d|libc\.so\.6)$/m.test(maps)) return 'glibc';
    }
    if (process.platform !== 'linux') return 'unknown';
    // The report costs about 10 ms, hence only when the mappings did not say.
    return reportHeader().glibcVersionRuntime ? 'glibc' : 'musl';
}

function readMaps(): string | null {
    try {
        return readFileSync('/proc/self/maps', 'latin1');
    } catch {
        return null;
    }
}

function defaultReportHeader(): { glibcVersionRuntime?: string } {
    return (process.report.getReport() as { header: { glibcVersionRuntime?: string } }).header;
}

/** How to get binaries where the package has none for this machine: the error a user sees. */
export function noBinariesMessage(root: string, platform: string, arch: string, libc: Libc): string {
    const where = `${platform}-${arch}${libc === 'musl' ? ' (musl libc)' : ''}`;
    if (libc === 'musl') {
        return (
            `tethered: no prebuilt binaries for ${where} in ${join(root, 'prebuilds')}. The prebuilt ones are for glibc ` +
            `(Linux x64 and arm64, glibc 2.28 or later), and a build from source on musl is not supported either: the ` +
            `libc layer is written for glibc (it hooks glibc's getaddrinfo_a and res_* resolver functions and reads ` +
            `backtraces through execinfo.h, which musl lacks). Run on a glibc-based image instead, e.g. ` +
            `node:20-bookworm-slim in place of node:20-alpine.`
        );
    }
    return (
        `tethered: no prebuilt binaries for ${where} in ${join(root, 'prebuilds')} (they exist for linux-x64 and ` +
        `linux-arm64, glibc 2.28 or later). Build them from source, with a C11 and C++17 compiler, make and ` +
        `python3 installed, from your project's directory: npm install --no-save node-addon-api && npm run build:native --prefix ${root}`
    );
}

/**
 * The addon to load: build/Release (unless PREBUILDS_ONLY is set), else the prebuild for this machine:
 * prebuilds/<platform>-<arch>/ for glibc, prebuilds/<platform>-<arch>-musl/ for musl (libtethered.so and
 * tethered-strict sit beside the addon, so each C library needs a directory of its own).
 */
export function findAddon(root: string, platform: string = process.platform, arch: string = process.arch, libc: () => Libc = detectLibc): string {
    if (!process.env.PREBUILDS_ONLY) {
        for (const dir of ['Release', 'Debug']) {
            const built = join(root, 'build', dir, 'tethered.node');
            if (existsSync(built)) return built;
        }
    }
    const kind = platform === 'linux' ? libc() : 'unknown';
    const dir = join(root, 'prebuilds', `${platform}-${arch}${kind === 'musl' ? '-musl' : ''}`);
    let addon: string | undefined;
    try {
        addon = readdirSync(dir).find((f) => f.endsWith('.node'));
    } catch {
        // no prebuilds for this machine
    }
    if (addon) return join(dir, addon);
    throw new Error(noBinariesMessage(root, platform, arch, kind));
}

export function nativeBinaries(): NativeBinaries {
    if (cached) return cached;
    const addonPath = findAddon(PACKAGE_ROOT);
    const shimPath = join(dirname(addonPath), 'libtethered.so');
    if (!existsSync(shimPath)) {
        throw new Error(`tethered: found the addon at ${addonPath} but no libtethered.so beside it; rebuild with 'npm run build:native'`);
    }
    const addon = requireAddon(addonPath);
    cached = addonOfLoadedShim(addonPath, addon) ?? { addonPath, shimPath, addon };
    return cached;
}

/** The absolute path of libtethered.so, for LD_PRELOAD (the one in the process, when another copy loaded it). */
export function shimPath(): string {
    return nativeBinaries().shimPath;
}
