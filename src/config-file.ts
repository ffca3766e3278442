/**
 * Configuration discovery: the policy of a project lives in `tethered.config.json`, or under a "tethered"
 * key of its `package.json`, in the working directory or any directory above it. The nearest directory
 * that has either wins; within one directory tethered.config.json comes first. The format is the policy
 * file's ({allow, deny, allowLocalhost, mode}), checked the same way: an unknown key is an error.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type PolicyFile, PolicyFileError, policyFromJson, readPolicyFile } from './policy-file.js';

export const CONFIG_FILE = 'tethered.config.json';

export interface FoundConfig {
    /** The file the policy came from (a package.json for the "tethered" key). */
    readonly path: string;
    readonly policy: PolicyFile;
}

const isFile = (path: string) => existsSync(path) && statSync(path).isFile();

/** The policy in a package.json's "tethered" key, or null when it has none. */
function fromPackageJson(path: string): PolicyFile | null {
    let data: unknown;
    try {
        data = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
        throw new PolicyFileError(path, `it is not valid JSON, so its "tethered" key cannot be read (${(err as Error).message})`);
    }
    if (typeof data !== 'object' || data === null || !Object.hasOwn(data, 'tethered')) return null;
    return policyFromJson(`${path} ("tethered" key)`, (data as Record<string, unknown>).tethered);
}

/** The nearest configuration from `start` upward, or null when there is none. Throws PolicyFileError on a bad one. */
export function findConfig(start: string = process.cwd()): FoundConfig | null {
    let dir = resolve(start);
    for (;;) {
        const config = join(dir, CONFIG_FILE);
        if (isFile(config)) return { path: config, policy: readPolicyFile(config) };
        const pkg = join(dir, 'package.json');
        if (isFile(pkg)) {
            const policy = fromPackageJson(pkg);
            if (policy) return { path: pkg, policy };
        }
        const parent = dirname(dir);
        if (parent === dir) return null;
        dir = parent;
    }
}

/**
 * The options activate() uses when called without any: the discovered configuration, or a TypeError that
 * says where it looked (never an empty policy: that would block everything without saying why).
 */
export function activateOptionsFromConfig(start: string = process.cwd()): {
    allow: readonly string[];
    deny: readonly string[];
    allowLocalhost: boolean | undefined;
    logOnly: boolean;
} {
    const found = findConfig(start);
    if (!found) {
        throw new TypeError(
            `activate() without options reads ${CONFIG_FILE} or the "tethered" key of package.json, from ${resolve(start)} upward; there is none. Pass the rules: activate({ allow: [...] })`,
        );
    }
    const { allow, deny, allowLocalhost, mode } = found.policy;
    return { allow, deny, allowLocalhost, logOnly: mode === 'log' };
}
