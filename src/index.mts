/**
 * The ESM entry point. It re-exports the CommonJS build rather than compiling a second copy, so that an
 * application that mixes `import` and `require` still has exactly one policy state.
 */
export {
    AllowPolicy,
    EgressBlocked,
    EgressViolation,
    InvalidRuleError,
    PolicyFileError,
    TetheredLocked,
    activate,
    deactivate,
    isEgressBlocked,
    noEgress,
    parseRule,
    readPolicyFile,
    scope,
    shimPath,
    status,
} from './index.js';
export type {
    ActivateOptions,
    EgressEvent,
    EgressOp,
    EgressReason,
    NoEgressOptions,
    ScopeOptions,
    Status,
    AddressRule,
    AllowPolicyOptions,
    Explanation,
    ExplanationReason,
    NameRule,
    PolicyFile,
    PortRange,
    Rule,
    WildcardRule,
} from './index.js';
