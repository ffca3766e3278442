/**
 * Loaded with `--require` into every worker thread started after tethered was loaded (js-errors.ts adds it
 * to the Worker's execArgv). The shim already judges the worker's attempts (it is process-wide), and the
 * policy in force is read from the addon (one per process); this gives the worker's JavaScript callers the
 * same EgressBlocked errors and evidence as the main thread's.
 */
import { isMainThread } from 'node:worker_threads';
import { installErrorMapping } from './js-errors.js';
import { runtime } from './runtime.js';

if (!isMainThread) {
    runtime();
    installErrorMapping();
}
