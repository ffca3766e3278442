/**
 * Starting a command under libtethered.so: the environment `tethered run` and `tethered learn` give it,
 * and a child whose exit status (or signal) becomes ours.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { preloadFirst, policyVariables } from '../child-env.js';
import { shimPath } from '../native.js';
import type { AllowPolicy } from '../policy/index.js';

export interface LaunchSettings {
    readonly policy: AllowPolicy;
    readonly mode: 'enforce' | 'log';
    /** stderr, off, or a file path */
    readonly log: string;
    readonly logAllowed?: boolean;
    readonly children?: 'inherit' | 'none';
}

/**
 * The environment for the child: ours without TETHERED_*, plus the shim first in LD_PRELOAD and the policy
 * (a large one as a reference to its compiled image: see child-env.ts).
 */
export function childEnvironment(settings: LaunchSettings, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(base)) if (!key.startsWith('TETHERED_')) env[key] = value;
    env.LD_PRELOAD = preloadFirst(shimPath(), base.LD_PRELOAD);
    Object.assign(env, policyVariables(settings.policy, { mode: settings.mode, log: settings.log }));
    if (settings.logAllowed) env.TETHERED_LOG_ALLOWED = '1';
    if (settings.children) env.TETHERED_CHILDREN = settings.children;
    return env;
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
