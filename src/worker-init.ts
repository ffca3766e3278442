/**
 * Loaded with `--require` into every worker thread started after tethered was loaded (js-errors.ts adds it
 * to the Worker's execArgv). The shim already judges the worker's attempts (it is process-wide); this gives
 * the worker's JavaScript callers the same EgressBlocked errors and evidence as the main thread's.
 */
import { isMainThread } from 'node:worker_threads';
import { installErrorMapping } from './js-errors.js';
import { AllowPolicy } from './policy/index.js';
import { runtime, setGlobal, type SharedSettings } from './runtime.js';

if (!isMainThread) {
    const json = runtime().addon.sharedSettings();
    if (json) {
        const s = JSON.parse(json) as SharedSettings;
        setGlobal({ policy: new AllowPolicy(s.allow, { deny: s.deny, allowLocalhost: s.allowLocalhost }), logOnly: s.logOnly, onBlocked: null });
    }
    installErrorMapping();
}
