/**
 * Starting a command under libtethered.so: the environment `tethered run` and `tethered learn` give it,
 * and a child whose exit status (or signal) becomes ours.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { preloadFirst, policyVariables } from '../child-env.js';
import { ENV, ENV_PREFIX } from '../env-names.js';
import { shimPath } from '../native.js';
import type { AllowPolicy } from '../policy/index.js';

export interface LaunchSettings {
    readonly policy: AllowPolicy;
    readonly mode: 'enforce' | 'log';
    /** stderr, off, or a file path */
    readonly log: string;
    readonly logAllowed?: boolean;
    readonly children?: 'inherit' | 'none';
    /** strict mode: the command runs under tethered-strict, the kernel-enforced supervisor, without the shim */
    readonly strict?: boolean;
}

/** tethered-strict, built beside libtethered.so (build/Release or prebuilds/<platform>-<arch>). */
export function strictPath(): string {
    const path = join(dirname(shimPath()), 'tethered-strict');
    if (!existsSync(path)) throw new Error(`tethered: strict mode needs ${path}; rebuild with 'npm run build:native'`);
    return path;
}

/**
 * The command line and environment for a launch: in strict mode the supervisor runs the command, reads the
 * policy from the same variables and hands the command the environment without them. The shim is not
 * preloaded there: it would report an attempt the supervisor reports again (one attempt, one event), and
 * the supervisor judges what the shim would.
 */
export function launchPlan(command: readonly string[], settings: LaunchSettings, base: NodeJS.ProcessEnv = process.env): { command: string[]; env: NodeJS.ProcessEnv } {
    if (!settings.strict) return { command: [...command], env: childEnvironment(settings, base) };
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(base)) if (!key.startsWith(ENV_PREFIX)) env[key] = value;
    Object.assign(env, policyVariables(settings.policy, { mode: settings.mode, log: settings.log }));
    if (settings.logAllowed) env[ENV.LOG_ALLOWED] = '1';
    return { command: [strictPath(), '--', ...command], env };
}

/**
 * The environment for the child: ours without TETHERED_*, plus the shim first in LD_PRELOAD and the policy
 * (a large one as a reference to its compiled image: see child-env.ts).
 */
export function childEnvironment(settings: LaunchSettings, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(base)) if (!key.startsWith(ENV_PREFIX)) env[key] = value;
    env.LD_PRELOAD = preloadFirst(shimPath(), base.LD_PRELOAD);
    Object.assign(env, policyVariables(settings.policy, { mode: settings.mode, log: settings.log }));
    if (settings.logAllowed) env[ENV.LOG_ALLOWED] = '1';
    if (settings.children) env[ENV.CHILDREN] = settings.children;
    env.NODE_OPTIONS = withRunRegister(base.NODE_OPTIONS);
    return env;
}

/** The entry every Node process of a `tethered run` tree loads first (run-register.ts). */
export const RUN_REGISTER = join(__dirname, '..', 'run-register.js');

/**
 * NODE_OPTIONS with `--require` of the run's register entry added (once), quoted the way Node reads
 * NODE_OPTIONS, so that a path with spaces or quotes stays one argument.
 */
export function withRunRegister(nodeOptions: string | undefined): string {
    const quoted = `"${RUN_REGISTER.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    const current = nodeOptions?.trim() ?? '';
    if (current.includes(quoted)) return current;
    return current ? `${current} --require ${quoted}` : `--require ${quoted}`;
}

/** Runs the command; resolves to the exit code the CLI should end with (128+n for a signal). */
export function launch(command: readonly string[], env: NodeJS.ProcessEnv, err: (line: string) => void): Promise<number> {
    return new Promise((resolve) => {
        const [file, ...args] = command as [string, ...string[]];
        const child = spawn(file, args, { stdio: 'inherit', env });
        const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
        const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((s) => [s, forward(s)] as const);
        for (const [s, h] of handlers) process.on(s, h);
        const done = (code: number) => {
            for (const [s, h] of handlers) process.off(s, h);
            resolve(code);
        };
        child.on('error', (e: NodeJS.ErrnoException) => {
            err(`tethered: cannot run ${JSON.stringify(file)}: ${e.code === 'ENOENT' ? 'command not found' : e.message}`);
            done(e.code === 'ENOENT' ? 127 : 126);
        });
        child.on('exit', (code, signal) => {
            if (signal) done(128 + constants.signals[signal]);
            else done(code ?? 1);
        });
    });
}

/** Splits `[options…] -- command…`; null when there is no `--` or no command after it. */
export function splitCommand(argv: readonly string[]): { options: string[]; command: string[] } | null {
    const at = argv.indexOf('--');
    if (at < 0 || at === argv.length - 1) return null;
    return { options: argv.slice(0, at), command: argv.slice(at + 1) };
}
