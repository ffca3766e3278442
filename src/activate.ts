/**
 * In-process activation: activate() loads libtethered.so through the addon (or finds it preloaded), pushes
 * the policy down, and patches every loaded object so that every outbound attempt of the process — any
 * library, any thread, objects loaded later — is judged.
 *
 * One process, one policy (docs/rules.md, One process, one policy): nothing about the policy in force is kept in this module. The
 * shim holds the policy and its lock (checked against the lockToken in native code), and the addon holds
 * its description beside it, changed only together with it; every copy of this package in the process
 * (ESM and CJS, another install, a cleared require.cache, a test runner's module registry, a vm realm, a
 * worker) reads and changes that one state.
 */
import { dirname, join } from 'node:path';
import dns from 'node:dns';
import { loadedShim, shimPath as findShim, type NativeStatus } from './native.js';
import { AllowPolicy, normalRules } from './policy/index.js';
import { type EgressEvent, TetheredLocked } from './errors.js';
import { checkKnownKeys } from './options.js';
import { installErrorMapping } from './js-errors.js';
import { policyVariables, preloadFirst } from './child-env.js';
import { described, dispatch, patchProcess, runtime, setHandler, type Described } from './runtime.js';
import { activateOptionsFromConfig } from './config-file.js';
import { ACTIVATE_ENV_KEYS, ENV, POLICY_CARRIERS } from './env-names.js';

interface CommonOptions {
    readonly allow: readonly string[];
    readonly deny?: readonly string[] | undefined;
    /** Default true. */
    readonly allowLocalhost?: boolean | undefined;
    /** Let everything through and report would-block events. */
    readonly logOnly?: boolean | undefined;
    /** Block when the check itself fails (default: fail open and report). */
    readonly failClosed?: boolean | undefined;
    /** Called on the JavaScript thread, asynchronously, for every blocked (or would-block) attempt. An exception it throws reaches 'uncaughtException'. */
    readonly onBlocked?: ((event: EgressEvent) => void) | undefined;
    /**
     * What child processes get: 'inherit' (default) the shim and the policy (dynamically linked programs
     * only); 'none' nothing; 'strict' every child runs under its own strict supervisor with the policy,
     * whatever environment it is given — static and Go programs, raw system calls and all their descendants
     * (docs/strict-mode.md). Under `strict: true`, 'strict' children are covered by the process's own filter.
     */
    readonly children?: 'inherit' | 'none' | 'strict' | undefined;
    /**
     * Kernel-enforced for this process itself, all its threads and all its descendants: a seccomp filter
     * sends every connect and send with an address to a supervisor process, which judges it by the same
     * policy — raw system calls, io_uring and the 32-bit table included (docs/strict-mode.md). Cannot be
     * undone: later activate() calls send their policy to the supervisor, deactivate() lets everything
     * through, and a locked strict policy cannot be changed by anything in the process, not even its lockToken.
     * Throws ERR_TETHERED_STRICT_UNAVAILABLE where the system refuses it (nothing is changed then).
     */
    readonly strict?: boolean | undefined;
}

/** `locked: true` needs the `lockToken` later calls must present (the type says so, and so does activate()). */
export type ActivateOptions = CommonOptions &
    (
        | {
              /** Refuse later activate()/deactivate() calls that do not pass this very lockToken. */
              readonly locked: true;
              readonly lockToken: object;
          }
        | {
              readonly locked?: false | undefined;
              /** The token of the lock in force, to replace a locked policy (with locked: false, the new one is not locked). */
              readonly lockToken?: object | undefined;
          }
    );

const OPTION_KEYS = ['allow', 'deny', 'allowLocalhost', 'logOnly', 'failClosed', 'onBlocked', 'locked', 'lockToken', 'children', 'strict'] as const;

export interface Status {
    readonly active: boolean;
    readonly mode: 'enforce' | 'log' | 'off';
    /** How the shim is in the process: LD_PRELOAD, or loaded and patched in by activate(). */
    readonly layer: 'preload' | 'in-process' | 'js-only';
    readonly locked: boolean;
    readonly rules: { readonly allow: readonly string[]; readonly deny: readonly string[] };
    readonly allowLocalhost: boolean;
    readonly children: 'inherit' | 'none' | 'strict';
    /** activate({ strict: true }) put this process under the kernel-enforced layer (for its lifetime). */
    readonly strict: boolean;
    /** GOT entries pointed at the hooks so far (0 in preload mode, where none are needed). */
    readonly patchedSlots: number;
}

const ENV_KEYS = ACTIVATE_ENV_KEYS;

function checkOptions(options: ActivateOptions): void {
    if (typeof options !== 'object' || options === null) throw new TypeError('activate() takes an options object: activate({ allow: [...] })');
    checkKnownKeys('activate()', options, OPTION_KEYS);
    if (!Array.isArray(options.allow)) throw new TypeError('activate(): allow must be an array of rules');
    for (const key of ['logOnly', 'failClosed', 'locked', 'allowLocalhost', 'strict'] as const) {
        if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`activate(): ${key} must be a boolean`);
    }
    if (options.onBlocked !== undefined && typeof options.onBlocked !== 'function') throw new TypeError('activate(): onBlocked must be a function');
    if (options.children !== undefined && options.children !== 'inherit' && options.children !== 'none' && options.children !== 'strict') {
        throw new TypeError("activate(): children must be 'inherit', 'none' or 'strict'");
    }
    if (options.locked && (typeof options.lockToken !== 'object' || options.lockToken === null)) {
        throw new TypeError('activate(): locked: true needs a lockToken object');
    }
}

/** tethered-strict, built beside libtethered.so. */
function strictBinary(shimPath: string): string {
    return join(dirname(shimPath), 'tethered-strict');
}

/** Runs a call the shim may refuse because of its lock (set by this or any other copy of the package). */
function throughLock(what: string, call: () => void): void {
    try {
        call();
    } catch (e) {
        if ((e as { code?: unknown } | null)?.code === 'ERR_TETHERED_LOCKED') throw new TetheredLocked(what, /for the life of this process/.test((e as Error).message));
        throw e;
    }
}

/** What the shim has in force, or null when the native layer cannot be loaded. */
function nativeStatus(): NativeStatus | null {
    try {
        return runtime().addon.status();
    } catch {
        return null;
    }
}

/** Puts ENV_KEYS back as they were. A key missing from `saved` was unset then (the description travels as
 * JSON, which drops undefined values). */
function restoreEnv(saved: Readonly<Record<string, string | undefined>>): void {
    for (const key of ENV_KEYS) {
        const value = saved[key];
        if (value === undefined) Reflect.deleteProperty(process.env, key);
        else process.env[key] = value;
    }
}

/**
 * Puts a policy in force for the whole process (replacing any earlier one, whichever copy of the package
 * put it there). Throws InvalidRuleError for a bad rule (the earlier policy stays), TetheredLocked when a
 * locked policy is in force and `lockToken` is not its token (the shim decides, not this module).
 */
/**
 * Under the process's own filter, DNS to the name servers is answered by the supervisor's resolver
 * (docs/strict-mode.md, Names), from its own address: c-ares (dns.resolve*) drops UDP answers from an address
 * it did not ask, so resolvers set up from now on (Node's default one is made at its first use), and
 * children, ask over TCP. glibc's resolver takes the UDP answers either way.
 */
function useTcpForDns(): void {
    const options = process.env.RES_OPTIONS ?? '';
    if (/(^|\s)use-vc(\s|$)/.test(options)) return;
    process.env.RES_OPTIONS = options ? `${options} use-vc` : 'use-vc';
    // Node made its default resolver when node:dns was loaded; setServers() makes a new one (reading
    // RES_OPTIONS again) for dns.* and dns.promises.*, with the same servers. A dns.Resolver the program
    // made before keeps asking over UDP (its answers time out: docs/strict-mode.md).
    dns.setServers(dns.getServers());
}

/** Without options: the project's tethered.config.json or package.json "tethered" key (config-file.ts). */
export function activate(options: ActivateOptions = activateOptionsFromConfig()): void {
    checkOptions(options);
    const policy = new AllowPolicy(options.allow, { deny: options.deny, allowLocalhost: options.allowLocalhost });
    const { addon, shimPath } = runtime();
    const before = described();
    const savedEnv = before ? before.savedEnv : Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    const children = options.children ?? 'inherit';
    const inherit = children === 'inherit';
    // Once strict, always strict (for this process's lifetime): every policy goes to the supervisor too.
    const strictOn = options.strict === true || nativeStatus()?.strict === true;
    // TETHERED_LOG as the user set it, not as an earlier activate() set it for children.
    const userLog = before ? savedEnv[ENV.LOG] : process.env[ENV.LOG];
    // What children get (also what the shim injects into every exec). Under the process's own filter in
    // log-only mode, a child's attempt reaches the supervisor whatever its libc layer decides, and the
    // supervisor reports it: the child's libc layer then logs nothing, so each attempt is reported once. (In
    // enforce mode the libc layer refuses first, the supervisor never sees the call, and the child reports.)
    const variables = policyVariables(policy, {
        mode: options.logOnly ? 'log' : 'enforce',
        failClosed: options.failClosed ?? false,
        log: strictOn && options.logOnly ? 'off' : (userLog ?? 'stderr'),
    });
    const rules = normalRules(policy);
    // The supervisor's policy: the same variables (its events come back through the addon, not its own log).
    const strictPolicy = Object.entries(policyVariables(policy, { mode: options.logOnly ? 'log' : 'enforce', log: 'off' }))
        .filter(([k]) => k !== ENV.LOG)
        .map(([k, v]) => `${k}=${v}`);
    // The shim keeps the lock (docs/rules.md, One process, one policy): no other caller of its exports can
    // loosen the policy.
    const settings = {
        ...rules,
        logOnly: options.logOnly ?? false,
        failClosed: options.failClosed ?? false,
        childrenInherit: inherit,
        // Under the process's own filter, children are covered already (its supervisor judges them too).
        childrenStrict: children === 'strict' && !strictOn,
        log: userLog ?? 'off',
        inject: Object.entries(variables).map(([k, v]) => `${k}=${v}`),
    };
    installErrorMapping();
    // Patching first: harmless if the lock then refuses (a policy is in force then, and patched).
    const patchedSlots = patchProcess();
    const description: Described = {
        ...rules,
        logOnly: settings.logOnly,
        failClosed: settings.failClosed,
        children,
        patchedSlots,
        savedEnv,
    };
    // The shim keeps the lock (docs/rules.md, One process, one policy): no other caller of its exports can loosen the policy. The
    // description and the event handler change with the policy, under the same check.
    throughLock('activate()', () => {
        const strict = strictOn ? { policy: strictPolicy, start: options.strict === true ? strictBinary(shimPath) : undefined } : undefined;
        addon.configure(settings, options.lockToken ?? null, options.locked ?? false, dispatch, JSON.stringify(description), strict);
    });
    setHandler(addon.generation(), options.onBlocked ?? null);
    restoreEnv(savedEnv);
    if (strictOn) useTcpForDns();
    if (inherit) {
        process.env.LD_PRELOAD = preloadFirst(shimPath, savedEnv.LD_PRELOAD);
        // the policy goes as rules or as an image (child-env.ts), never both
        for (const key of POLICY_CARRIERS) Reflect.deleteProperty(process.env, key);
        Object.assign(process.env, variables);
    }
}

/**
 * Lifts the policy activate() put in force (from whichever copy): every hook passes through again, or
 * under the environment's policy when there is one. Throws TetheredLocked without the lock token.
 */
export function deactivate(options: { lockToken?: object | undefined } = {}): void {
    // Nothing of tethered in the process: nothing to lift (and no reason to load the shim).
    if (loadedShim() === null) return;
    const { addon } = runtime();
    const before = described();
    throughLock('deactivate()', () => { addon.disable(options.lockToken ?? null); });
    if (before) restoreEnv(before.savedEnv);
}

/**
 * Tells what the shim and the addon have in force, whoever put it there: a policy from the environment
 * that enforces (a ceiling) is in force even when nothing was activated, and under it a logOnly activate()
 * still blocks what the ceiling refuses, so the mode is 'enforce'.
 */
export function status(): Status {
    const native = loadedShim() === null ? null : nativeStatus();
    // A policy is in force (another copy's, perhaps): from now on this thread's callers get EgressBlocked.
    if (native?.active) installErrorMapping();
    const d = native?.description ? (JSON.parse(native.description) as Described) : null;
    if (native && d) {
        return {
            active: true,
            mode: native.mode,
            layer: native.preloaded ? 'preload' : 'in-process',
            locked: native.locked,
            rules: { allow: [...d.allow], deny: [...d.deny] },
            allowLocalhost: d.allowLocalhost,
            children: d.children,
            strict: native.strict,
            patchedSlots: native.preloaded ? 0 : d.patchedSlots,
        };
    }
    if (native) {
        return {
            active: native.active,
            mode: native.mode,
            layer: native.preloaded ? 'preload' : 'in-process',
            locked: native.locked,
            rules: { allow: [], deny: [] },
            allowLocalhost: process.env[ENV.ALLOW_LOCALHOST] !== '0',
            children: process.env[ENV.CHILDREN] === 'none' ? 'none' : 'inherit',
            strict: native.strict,
            patchedSlots: 0,
        };
    }
    // The native layer cannot be loaded here: preloaded with a policy from the environment, perhaps.
    const preloaded = (process.env.LD_PRELOAD ?? '').split(/[:\s]+/).includes(findShim());
    return {
        active: preloaded,
        mode: preloaded ? (process.env[ENV.MODE] === 'log' ? 'log' : 'enforce') : 'off',
        layer: preloaded ? 'preload' : 'in-process',
        locked: false,
        rules: { allow: [], deny: [] },
        allowLocalhost: process.env[ENV.ALLOW_LOCALHOST] !== '0',
        children: process.env[ENV.CHILDREN] === 'none' ? 'none' : 'inherit',
        strict: false,
        patchedSlots: 0,
    };
}
