/**
 * The policy options `run` and `learn` share: --allow, --deny, --policy, --no-localhost. Builds the
 * AllowPolicy (so that a bad rule stops the command before it starts) or reports why it cannot.
 */
import { AllowPolicy, InvalidRuleError } from '../policy/index.js';
import { PolicyFileError, readPolicyFile } from '../policy-file.js';

export const POLICY_OPTIONS = {
    allow: { type: 'string', multiple: true },
    deny: { type: 'string', multiple: true },
    policy: { type: 'string' },
    'no-localhost': { type: 'boolean' },
} as const;

export interface PolicyValues {
    allow?: string[] | undefined;
    deny?: string[] | undefined;
    policy?: string | undefined;
    'no-localhost'?: boolean | undefined;
}

/** The policy, with the mode a policy file asks for; or an error message. */
export function policyFromOptions(values: PolicyValues): { policy: AllowPolicy; fileMode: 'enforce' | 'log' | undefined } | string {
    let allow = [...(values.allow ?? [])];
    let deny = [...(values.deny ?? [])];
    let allowLocalhost = !values['no-localhost'];
    let fileMode: 'enforce' | 'log' | undefined;
    try {
        if (values.policy !== undefined) {
            const file = readPolicyFile(values.policy);
            allow = [...file.allow, ...allow];
            deny = [...file.deny, ...deny];
            if (file.allowLocalhost === false) allowLocalhost = false;
            fileMode = file.mode;
        }
        return { policy: new AllowPolicy(allow, { deny, allowLocalhost }), fileMode };
    } catch (err) {
        if (err instanceof InvalidRuleError || err instanceof PolicyFileError) return err.message;
        throw err;
    }
}
