/**
 * worker_threads.Worker: workers started once tethered is at work load worker-init.js first, so that their
 * callers get the same errors (the shim judges their attempts either way).
 */
import { syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import workerThreads from 'node:worker_threads';
import { wrappers } from './state.js';

const WORKER_INIT = join(__dirname, '..', 'worker-init.js');

/** What a worker inherits by default: the process's execArgv without the main script's -e/-p code. */
function inheritedExecArgv(): string[] {
    const out: string[] = [];
    const argv = process.execArgv;
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i] ?? '';
        if (a === '-e' || a === '--eval' || a === '-p' || a === '--print') i++;
        else if (!/^(--eval|--print)=/.test(a)) out.push(a);
    }
    return out;
}

/**
 * Wraps worker_threads.Worker (at load, so that code which takes `Worker` after requiring tethered gets the
 * wrapper); inert until tethered is at work. A worker whose execArgv cannot take --require is started as
 * asked, without the wrappers.
 */
export function wrapWorkers(): void {
    if (wrappers.workers) return;
    wrappers.workers = true;
    const Original = workerThreads.Worker;
    const Wrapped = new Proxy(Original, {
        construct(target, args: unknown[], newTarget: (...a: unknown[]) => unknown) {
            if (wrappers.loaded) {
                const options = (args[1] ?? {}) as { execArgv?: string[] };
                const withInit = { ...options, execArgv: [...(options.execArgv ?? inheritedExecArgv()), '--require', WORKER_INIT] };
                try {
                    return Reflect.construct(target, [args[0], withInit, ...args.slice(2)], newTarget) as object;
                } catch (err) {
                    if ((err as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw err;
                }
            }
            return Reflect.construct(target, args, newTarget) as object;
        },
    });
    Reflect.set(workerThreads, 'Worker', Wrapped);
    syncBuiltinESMExports();
}
