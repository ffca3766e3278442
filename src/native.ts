/**
 * Finds the native binaries: the addon through node-gyp-build (a local build in build/Release first, else the
 * prebuilt one in prebuilds/<platform>-<arch>/), and libtethered.so beside whichever addon was chosen, so that
 * the two always come from the same build. No install script is needed when prebuilds/ ships them.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import nodeGypBuild = require('node-gyp-build');

export interface NativeSettings {
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    readonly allowLocalhost: boolean;
    readonly logOnly: boolean;
    readonly failClosed: boolean;
    readonly childrenInherit: boolean;
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
    configure(settings: NativeSettings, lockToken: object | null, locked: boolean, handler?: ((line: string) => void) | null, description?: string): void;
    /** Changes whenever a policy is put in force or lifted through this addon (any copy, any thread). */
    generation(): number;
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
    scopeId(scope: NativeScope): number;
    /** `current` answers the shim, when a hook on the calling thread judges an attempt, which scope this thread's JavaScript is in. */
    scopeSource(current: () => NativeScope | null): void;
    /** Settings (JSON) for the JavaScript of worker threads; '' for none. */
    shareSettings(json: string): void;
    sharedSettings(): string | null;
    /** Keep the events of attempts made in collecting scope `id` ... */
    collect(id: number): void;
    /** ... until this returns them (event lines) and stops keeping them. */
    takeCollected(id: number): string[];
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
}

/** A compiled scope, owned by the addon (freed when the last reference goes). */
export type NativeScope = object & { readonly __nativeScope: unique symbol };

export interface NativeBinaries {
    readonly addonPath: string;
    readonly shimPath: string;
    readonly addon: Addon;
}

const PACKAGE_ROOT = join(__dirname, '..');
let cached: NativeBinaries | null = null;

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

export function nativeBinaries(): NativeBinaries {
    if (cached) return cached;
    const addonPath = nodeGypBuild.resolve(PACKAGE_ROOT);
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
