/**
 * `node --import tethered/register` or `node --require tethered/register`: activates tethered for the whole
 * process from the TETHERED_* environment (docs/rules.md, Where rules come from), before the application's code runs, so that
 * its callers get EgressBlocked errors with evidence rather than a bare EACCES.
 *
 *  - TETHERED_ALLOW (and TETHERED_DENY, TETHERED_ALLOW_LOCALHOST, TETHERED_MODE, TETHERED_FAIL_CLOSED,
 *    TETHERED_CHILDREN) or TETHERED_POLICY_FILE: that policy is activated.
 *  - Otherwise, under a preloaded shim (`tethered run`, a policy image): the environment's policy is in
 *    force already (a ceiling); only the JavaScript errors are installed.
 *  - Otherwise the project's configuration (tethered.config.json, or the "tethered" key of package.json, from
 *    the working directory upward: config-file.ts) is activated when there is one.
 *  - Otherwise nothing happens: no policy was asked for.
 */
import { activate } from './activate.js';
import { findConfig } from './config-file.js';
import { ENV } from './env-names.js';
import { installErrorMapping } from './js-errors.js';
import { loadedShim } from './native.js';
import { readPolicyFile } from './policy-file.js';
import { runtime } from './runtime.js';

function list(value: string | undefined): string[] {
    return (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
}

function registerFromEnvironment(env: NodeJS.ProcessEnv): void {
    const file = env[ENV.POLICY_FILE];
    const common = {
        failClosed: env[ENV.FAIL_CLOSED] === '1',
        children: env[ENV.CHILDREN] === 'none' ? ('none' as const) : ('inherit' as const),
    };
    if (file) {
        const p = readPolicyFile(file);
        activate({ allow: p.allow, deny: p.deny, allowLocalhost: p.allowLocalhost ?? true, logOnly: (env[ENV.MODE] ?? p.mode) === 'log', ...common });
    } else if (env[ENV.ALLOW] !== undefined) {
        activate({
            allow: list(env[ENV.ALLOW]),
            deny: list(env[ENV.DENY]),
            allowLocalhost: env[ENV.ALLOW_LOCALHOST] !== '0',
            logOnly: env[ENV.MODE] === 'log',
            ...common,
        });
    } else if (loadedShim() !== null) {
        runtime();
        installErrorMapping();
    } else {
        const found = findConfig();
        if (!found) return;
        const { allow, deny, allowLocalhost, mode } = found.policy;
        activate({ allow, deny, allowLocalhost, logOnly: (env[ENV.MODE] ?? mode) === 'log', ...common });
    }
}

registerFromEnvironment(process.env);
