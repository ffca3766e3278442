/**
 * In-process activation: activate() loads libtethered.so through the addon (or finds it preloaded), pushes
 * the policy down, and patches every loaded object so that every outbound attempt of the process — any
 * library, any thread, objects loaded later — is judged. All activation state is one frozen object,
 * replaced in a single assignment.
 */
import { shimPath as findShim, type NativeStatus } from './native.js';
import { AllowPolicy, normalRules } from './policy/index.js';
import { type EgressEvent, TetheredLocked } from './errors.js';
import { installErrorMapping } from './js-errors.js';
import { policyVariables, preloadFirst } from './child-env.js';
import { patchProcess, runtime, setGlobal, type SharedSettings } from './runtime.js';
import { activateOptionsFromConfig } from './config-file.js';

export interface ActivateOptions {
    readonly allow: readonly string[];
    readonly deny?: readonly string[] | undefined;
    /** Default true. */
    readonly allowLocalhost?: boolean | undefined;
    /** Let everything through and report would-block events. */
    readonly logOnly?: boolean | undefined;
    /** Block when the check itself fails (default: fail open and report). */
    readonly failClosed?: boolean | undefined;
    /** Called on the JavaScript thread, asynchronously, for every blocked (or would-block) attempt. */
    readonly onBlocked?: ((event: EgressEvent) => void) | undefined;
    /** Refuse later activate()/deactivate() calls that do not pass this very lockToken. */
    readonly locked?: boolean | undefined;
    readonly lockToken?: object | undefined;
    /** 'inherit' (default): child processes get the shim and the policy. */
    readonly children?: 'inherit' | 'none' | undefined;
}

export interface Status {
    readonly active: boolean;
    readonly mode: 'enforce' | 'log' | 'off';
    /** How the shim is in the process: LD_PRELOAD, or loaded and patched in by activate(). */
    readonly layer: 'preload' | 'in-process' | 'js-only';
    readonly locked: boolean;
    readonly rules: { readonly allow: readonly string[]; readonly deny: readonly string[] };
    readonly allowLocalhost: boolean;
    readonly children: 'inherit' | 'none';
    /** GOT entries pointed at the hooks so far (0 in preload mode, where none are needed). */
    readonly patchedSlots: number;
}

interface Activation {
    readonly policy: AllowPolicy;
    readonly options: ActivateOptions;
    readonly lockToken: object | null;
    readonly preloaded: boolean;
    readonly patchedSlots: number;
    /** process.env entries as they were before activate() changed them */
    readonly savedEnv: Readonly<Record<string, string | undefined>>;
}

let current: Activation | null = null;

const ENV_KEYS = ['LD_PRELOAD', 'TETHERED_ALLOW', 'TETHERED_DENY', 'TETHERED_ALLOW_LOCALHOST', 'TETHERED_MODE', 'TETHERED_FAIL_CLOSED', 'TETHERED_LOG', 'TETHERED_CHILDREN', 'TETHERED_POLICY_FILE', 'TETHERED_POLICY_IMAGE'];

function checkOptions(options: ActivateOptions): void {
    if (typeof options !== 'object' || options === null) throw new TypeError('activate() takes an options object: activate({ allow: [...] })');
    if (!Array.isArray(options.allow)) throw new TypeError('activate(): allow must be an array of rules');
    for (const key of ['logOnly', 'failClosed', 'locked', 'allowLocalhost'] as const) {
        if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`activate(): ${key} must be a boolean`);
    }
    if (options.onBlocked !== undefined && typeof options.onBlocked !== 'function') throw new TypeError('activate(): onBlocked must be a function');
    if (options.children !== undefined && options.children !== 'inherit' && options.children !== 'none') {
        throw new TypeError("activate(): children must be 'inherit' or 'none'");
    }
    if (options.locked && (typeof options.lockToken !== 'object' || options.lockToken === null)) {
        throw new TypeError('activate(): locked: true needs a lockToken object');
    }
}

function checkLock(what: string, token: object | undefined): void {
    if (current?.lockToken && token !== current.lockToken) throw new TetheredLocked(what);
}

/** Runs a call the shim may refuse because of its lock (set by this or any other copy of the package). */
function throughLock(what: string, call: () => void): void {
    try {
        call();
    } catch (e) {
        if ((e as { code?: unknown } | null)?.code === 'ERR_TETHERED_LOCKED') throw new TetheredLocked(what);
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

function restoreEnv(saved: Readonly<Record<string, string | undefined>>): void {
    for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) Reflect.deleteProperty(process.env, key);
        else process.env[key] = value;
    }
}

/**
 * Puts a policy in force for the whole process (replacing any earlier one). Throws InvalidRuleError for a
 * bad rule (the earlier policy stays), TetheredLocked when a locked policy is in force and `lockToken` is
 * not its token.
 */
/** Without options: the project's tethered.config.json or package.json "tethered" key (config-file.ts). */
export function activate(options: ActivateOptions = activateOptionsFromConfig()): void {
    checkOptions(options);
    checkLock('activate()', options.lockToken);
    const policy = new AllowPolicy(options.allow, { deny: options.deny, allowLocalhost: options.allowLocalhost });
    const { addon, shimPath, preloaded } = runtime();
    const inherit = (options.children ?? 'inherit') === 'inherit';
    // TETHERED_LOG as the user set it, not as an earlier activate() set it for children.
    const userLog = current ? current.savedEnv.TETHERED_LOG : process.env.TETHERED_LOG;
    // What children get (also what the shim injects into every exec).
    const variables = policyVariables(policy, {
        mode: options.logOnly ? 'log' : 'enforce',
        failClosed: options.failClosed ?? false,
        log: userLog ?? 'stderr',
    });
    const rules = normalRules(policy);
    // The shim keeps the lock (docs/rules.md, One process, one policy): no other caller of its exports can
    // loosen the policy.
    const settings = {
        ...rules,
        logOnly: options.logOnly ?? false,
        failClosed: options.failClosed ?? false,
        childrenInherit: inherit,
        log: userLog ?? 'off',
        inject: Object.entries(variables).map(([k, v]) => `${k}=${v}`),
    };
    throughLock('activate()', () => { addon.configure(settings, options.lockToken ?? null, options.locked ?? false); });
    installErrorMapping();
    const patchedSlots = patchProcess();
    const savedEnv = current ? current.savedEnv : Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
    restoreEnv(savedEnv);
    if (inherit) {
        process.env.LD_PRELOAD = preloadFirst(shimPath, savedEnv.LD_PRELOAD);
        // the policy goes as rules or as an image (child-env.ts), never both
        for (const key of ['TETHERED_ALLOW', 'TETHERED_DENY', 'TETHERED_POLICY_FILE', 'TETHERED_POLICY_IMAGE']) Reflect.deleteProperty(process.env, key);
        Object.assign(process.env, variables);
    }
    setGlobal({ policy, logOnly: options.logOnly ?? false, onBlocked: options.onBlocked ?? null });
    const shared: SharedSettings = { ...rules, logOnly: options.logOnly ?? false };
    addon.shareSettings(JSON.stringify(shared));
    current = Object.freeze({
        policy,
        options: Object.freeze({ ...options }),
        lockToken: options.locked ? (options.lockToken ?? null) : null,
        preloaded,
        patchedSlots,
        savedEnv,
    });
}

/** Lifts the policy: every hook passes through again. Throws TetheredLocked without the lock token. */
export function deactivate(options: { lockToken?: object | undefined } = {}): void {
    checkLock('deactivate()', options.lockToken);
    if (!current) return;
    const { addon } = runtime();
    throughLock('deactivate()', () => { addon.disable(options.lockToken ?? null); });
    addon.shareSettings('');
    setGlobal(null);
    restoreEnv(current.savedEnv);
    current = null;
}

/**
 * Tells the truth from the shim where it knows better than this copy of the JavaScript: a policy from the
 * environment that enforces (a ceiling) is in force even when nothing was activated here, and under it a
 * logOnly activate() still blocks what the ceiling refuses, so the mode is 'enforce'.
 */
export function status(): Status {
    const native = nativeStatus();
    if (current) {
        const { allow, deny } = normalRules(current.policy);
        return {
            active: true,
            mode: native?.ceiling === 'enforce' || !current.options.logOnly ? 'enforce' : 'log',
            layer: current.preloaded ? 'preload' : 'in-process',
            locked: current.lockToken !== null || native?.locked === true,
            rules: { allow, deny },
            allowLocalhost: current.policy.allowLocalhost,
            children: current.options.children ?? 'inherit',
            patchedSlots: current.patchedSlots,
        };
    }
    if (native) {
        return {
            active: native.active,
            mode: native.mode,
            layer: native.preloaded ? 'preload' : 'in-process',
            locked: native.locked,
            rules: { allow: [], deny: [] },
            allowLocalhost: process.env.TETHERED_ALLOW_LOCALHOST !== '0',
            children: process.env.TETHERED_CHILDREN === 'none' ? 'none' : 'inherit',
            patchedSlots: 0,
        };
    }
    // The native layer cannot be loaded here: preloaded with a policy from the environment, perhaps.
    const preloaded = (process.env.LD_PRELOAD ?? '').split(/[:\s]+/).includes(findShim());
    return {
        active: preloaded,
        mode: preloaded ? (process.env.TETHERED_MODE === 'log' ? 'log' : 'enforce') : 'off',
        layer: preloaded ? 'preload' : 'in-process',
        locked: false,
        rules: { allow: [], deny: [] },
        allowLocalhost: process.env.TETHERED_ALLOW_LOCALHOST !== '0',
        children: process.env.TETHERED_CHILDREN === 'none' ? 'none' : 'inherit',
        patchedSlots: 0,
    };
}
