/**
 * What a process hands its children so that they keep the shim and the policy: libtethered.so first in
 * LD_PRELOAD, and the policy as TETHERED_* variables in normal form (ASCII, canonical, read the same way by
 * the C parser). Shared by `tethered run`/`learn` and by activate().
 *
 * A large policy goes as a compiled image instead (TETHERED_POLICY_IMAGE=<path>#<sha256>): one environment
 * string may hold at most 128 KiB, and every process would parse every rule again at start-up. The shim
 * writes the image once into the user's private directory; each child reads it, checks its hash and uses
 * it as it is. Small policies stay in the environment: parsing a few hundred rules costs a child no more
 * than reading an image (both well under a millisecond), and needs no file a child in another mount
 * namespace or chroot might not see.
 */
import { ENV } from './env-names.js';
import { nativeBinaries } from './native.js';
import { normalRules, type AllowPolicy } from './policy/index.js';

/** Rule text (allow and deny, joined) above which children get the policy as an image. */
export const IMAGE_THRESHOLD = 16 * 1024;

/** Writes (or finds) the image of these rules; returns the TETHERED_POLICY_IMAGE value. */
function policyImage(rules: { allow: readonly string[]; deny: readonly string[]; allowLocalhost: boolean }): string {
    const { addon, shimPath } = nativeBinaries();
    addon.load(shimPath);
    return addon.writePolicyImage(rules);
}

/** LD_PRELOAD with the shim first, keeping the other entries of `existing` once. */
export function preloadFirst(shim: string, existing: string | undefined): string {
    const others = (existing ?? '').split(/[:\s]+/).filter((p) => p && p !== shim);
    return [shim, ...others].join(':');
}

/** The TETHERED_* variables for a policy; TETHERED_FAIL_CLOSED only when `failClosed` is given. */
export function policyVariables(
    policy: AllowPolicy,
    settings: { readonly mode: 'enforce' | 'log'; readonly log: string; readonly failClosed?: boolean },
): Record<string, string> {
    const rules = normalRules(policy);
    const allow = rules.allow.join(',');
    const deny = rules.deny.join(',');
    const carried = allow.length + deny.length > IMAGE_THRESHOLD ? { [ENV.POLICY_IMAGE]: policyImage(rules) } : { [ENV.ALLOW]: allow, [ENV.DENY]: deny };
    return {
        ...carried,
        [ENV.ALLOW_LOCALHOST]: rules.allowLocalhost ? '1' : '0',
        [ENV.MODE]: settings.mode,
        ...(settings.failClosed === undefined ? {} : { [ENV.FAIL_CLOSED]: settings.failClosed ? '1' : '0' }),
        [ENV.LOG]: settings.log,
    };
}
