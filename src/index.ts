/** The public entry point (CommonJS build); `index.mts` re-exports it for ESM, so there is one instance. */
export { AllowPolicy, InvalidRuleError, parseRule } from './policy/index.js';
export type {
    AddressRule,
    AllowPolicyOptions,
    Explanation,
    ExplanationReason,
    NameRule,
    PortRange,
    Rule,
    WildcardRule,
} from './policy/index.js';
