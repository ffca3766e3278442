/**
 * What `tethered run` puts in NODE_OPTIONS (`--require …/run-register.js`) for every Node process of the
 * command's tree: the register entry (register.ts), so that Node callers get EgressBlocked errors rather
 * than a bare EACCES, plus the JavaScript evidence (the caller's stack, the URL) for the run's log.
 *
 * The preloaded shim enforces the policy whether or not this succeeds, so a failure here (an old Node, a
 * broken install in the tree) costs only the better errors: it is said once on stderr, never thrown into the
 * program.
 */
import { ENV } from './env-names.js';
import { logEvidenceTo } from './evidence.js';

try {
    const log = process.env[ENV.LOG];
    if (log?.startsWith('/')) logEvidenceTo(log);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('./register.js');
} catch (err) {
    process.stderr.write(`tethered: the JavaScript errors are not installed in this Node process (${(err as Error).message}); the policy is still enforced\n`);
}
