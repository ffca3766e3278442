/**
 * What a process hands its children so that they keep the shim and the policy: libtethered.so first in
 * LD_PRELOAD, and the policy as TETHERED_* variables in normal form (ASCII, canonical, read the same way by
 * the C parser). Shared by `tethered run`/`learn` and by activate().
 */
import { normalRules, type AllowPolicy } from './policy/index.js';

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
    return {
        TETHERED_ALLOW: rules.allow.join(','),
        TETHERED_DENY: rules.deny.join(','),
        TETHERED_ALLOW_LOCALHOST: rules.allowLocalhost ? '1' : '0',
        TETHERED_MODE: settings.mode,
        ...(settings.failClosed === undefined ? {} : { TETHERED_FAIL_CLOSED: settings.failClosed ? '1' : '0' }),
        TETHERED_LOG: settings.log,
    };
}
