/**
 * The policy options `run`, `learn` and `env` share: --allow, --deny, --policy, --no-localhost, --no-config.
 * Builds the AllowPolicy (so that a bad rule stops the command before it starts) or reports why it cannot.
 * Without --policy (and without --no-config) the project's configuration is used (config-file.ts).
 */
import { findConfig } from '../config-file.js';
import { AllowPolicy, InvalidRuleError } from '../policy/index.js';
import { analysePolicy } from '../policy/analyse.js';
import { overBroad } from '../policy/coverage.js';
import { parseRule } from '../policy/rule.js';
import { PolicyFileError, readPolicyFile } from '../policy-file.js';

export const POLICY_OPTIONS = {
    allow: { type: 'string', multiple: true },
    deny: { type: 'string', multiple: true },
    policy: { type: 'string' },
    'no-localhost': { type: 'boolean' },
    'no-config': { type: 'boolean' },
} as const;

export interface PolicyValues {
    allow?: string[] | undefined;
    deny?: string[] | undefined;
    policy?: string | undefined;
    'no-localhost'?: boolean | undefined;
    'no-config'?: boolean | undefined;
}

/**
 * Rules as given on the command line, where one argument may hold several separated by commas, as
 * TETHERED_ALLOW does (no rule contains one). Whitespace inside an argument is not a separator here: it
 * stays, to be refused with the rule that holds it. A blank piece stays too, to be refused as empty.
 */
export function splitRuleArguments(args: readonly string[]): string[] {
    return args.flatMap((arg) => (arg.includes(',') ? arg.split(',') : [arg]));
}

export interface BuiltPolicy {
    readonly policy: AllowPolicy;
    readonly fileMode: 'enforce' | 'log' | undefined;
    /** The rule sources, as given (for warnings and for learn). */
    readonly allow: readonly string[];
    readonly deny: readonly string[];
    /** The discovered configuration file, when the policy came from one. */
    readonly configPath: string | null;
}

/** The policy, with the mode a policy file asks for; or an error message. */
export function policyFromOptions(values: PolicyValues): BuiltPolicy | string {
    let allow = splitRuleArguments(values.allow ?? []);
    let deny = splitRuleArguments(values.deny ?? []);
    let allowLocalhost = !values['no-localhost'];
    let fileMode: 'enforce' | 'log' | undefined;
    let configPath: string | null = null;
    try {
        let file = values.policy !== undefined ? readPolicyFile(values.policy) : null;
        if (!file && !values['no-config']) {
            const found = findConfig();
            if (found) ({ path: configPath, policy: file } = found);
        }
        if (file) {
            allow = [...file.allow, ...allow];
            deny = [...file.deny, ...deny];
            if (file.allowLocalhost === false) allowLocalhost = false;
            fileMode = file.mode;
        }
        return { policy: new AllowPolicy(allow, { deny, allowLocalhost }), fileMode, allow, deny, configPath };
    } catch (err) {
        if (err instanceof InvalidRuleError || err instanceof PolicyFileError) return err.message;
        throw err;
    }
}

/** Above this many rules only the over-broad warnings are given: the pairwise ones cost rules² comparisons. */
export const PAIRWISE_WARNING_LIMIT = 2000;

/**
 * What `tethered check` would warn about in this policy (over-broad, duplicate, shadowed, dead rules). A
 * large policy (a generated one: 100,000 rules is a supported size) gets the over-broad warnings only,
 * which take one look at each rule; `tethered check` still gives them all.
 */
export function policyWarnings(built: BuiltPolicy): string[] {
    if (built.allow.length + built.deny.length <= PAIRWISE_WARNING_LIMIT) {
        return analysePolicy({ allow: built.allow, deny: built.deny, allowLocalhost: built.policy.allowLocalhost }).warnings.map((w) => w.message);
    }
    return built.allow.flatMap((source) => {
        const rule = parseRule(source);
        const why = overBroad(rule);
        return why ? [`'${rule.text}' is over-broad: ${why}`] : [];
    });
}
