/**
 * The policy file (docs/rules.md, Where rules come from): JSON `{ allow, deny, allowLocalhost, mode }`.
 * Read by the CLI (--policy, and the project configuration: config-file.ts), and by libtethered.so from
 * TETHERED_POLICY_FILE. Unknown keys are errors, so that a misspelt `"alow"` cannot silently leave a
 * policy empty.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';

export interface PolicyFile {
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    readonly allowLocalhost: boolean | undefined;
    readonly mode: 'enforce' | 'log' | undefined;
}

export class PolicyFileError extends Error {
    readonly code = 'ERR_TETHERED_POLICY_FILE';
    readonly path: string;

    constructor(path: string, problem: string) {
        super(problem === 'not found' ? `Tethered policy file ${path} not found` : `Invalid tethered policy file ${path}: ${problem}`);
        this.name = 'PolicyFileError';
        this.path = path;
    }
}

const KEYS = new Set(['allow', 'deny', 'allowLocalhost', 'mode']);

function stringList(path: string, key: string, value: unknown): readonly string[] {
    if (value === undefined) return [];
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
        throw new PolicyFileError(path, `"${key}" must be an array of rule strings`);
    }
    return value;
}

/** Validates the parsed JSON of a policy file. Rules themselves are checked by AllowPolicy. */
export function policyFromJson(path: string, data: unknown): PolicyFile {
    if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        throw new PolicyFileError(path, 'it must be a JSON object such as {"allow": ["api.example.com:443"]}');
    }
    const record = data as Record<string, unknown>;
    for (const key of Object.keys(record)) {
        if (!KEYS.has(key)) throw new PolicyFileError(path, `unknown key "${key}" (known keys: ${[...KEYS].join(', ')})`);
    }
    const { allowLocalhost, mode } = record;
    if (allowLocalhost !== undefined && typeof allowLocalhost !== 'boolean') {
        throw new PolicyFileError(path, '"allowLocalhost" must be true or false');
    }
    if (mode !== undefined && mode !== 'enforce' && mode !== 'log') {
        throw new PolicyFileError(path, '"mode" must be "enforce" or "log"');
    }
    return { allow: stringList(path, 'allow', record.allow), deny: stringList(path, 'deny', record.deny), allowLocalhost, mode };
}

/**
 * The file's text, opened without blocking and only if it is a regular file: a FIFO with no writer would
 * hang the command, a directory or a device is no policy.
 */
function readRegularFile(path: string): string {
    let fd: number;
    try {
        fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new PolicyFileError(path, code === 'ENOENT' ? 'not found' : (err as Error).message);
    }
    try {
        if (!fstatSync(fd).isFile()) throw new PolicyFileError(path, 'not a regular file');
        return readFileSync(fd, 'utf8');
    } catch (err) {
        if (err instanceof PolicyFileError) throw err;
        throw new PolicyFileError(path, (err as Error).message);
    } finally {
        closeSync(fd);
    }
}

export function readPolicyFile(path: string): PolicyFile {
    const text = readRegularFile(path);
    let data: unknown;
    try {
        data = JSON.parse(text);
    } catch (err) {
        throw new PolicyFileError(path, `it is not valid JSON (${(err as Error).message})`);
    }
    return policyFromJson(path, data);
}
