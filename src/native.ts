/**
 * Finds the native binaries: the addon through node-gyp-build (a local build in build/Release first, else the
 * prebuilt one in prebuilds/<platform>-<arch>/), and libtethered.so beside whichever addon was chosen, so that
 * the two always come from the same build. No install script is needed when prebuilds/ ships them.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import nodeGypBuild = require('node-gyp-build');

/** What the addon exports today; it grows with the in-process bridge. */
export interface Addon {
    readonly abi: number;
    readonly version: string;
}

export interface NativeBinaries {
    readonly addonPath: string;
    readonly shimPath: string;
    readonly addon: Addon;
}

const PACKAGE_ROOT = join(__dirname, '..');
let cached: NativeBinaries | null = null;

export function nativeBinaries(): NativeBinaries {
    if (cached) return cached;
    const addonPath = nodeGypBuild.resolve(PACKAGE_ROOT);
    const shimPath = join(dirname(addonPath), 'libtethered.so');
    if (!existsSync(shimPath)) {
        throw new Error(`tethered: found the addon at ${addonPath} but no libtethered.so beside it; rebuild with 'npm run build:native'`);
    }
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const addon = require(addonPath) as Addon;
    cached = { addonPath, shimPath, addon };
    return cached;
}

/** The absolute path of libtethered.so, for LD_PRELOAD. */
export function shimPath(): string {
    return nativeBinaries().shimPath;
}
