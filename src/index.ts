/** The public entry point (CommonJS build); `index.mts` re-exports it for ESM, so there is one instance. */
import { installErrorMapping, prepareRealm } from './js-errors.js';
import { loadedShim } from './native.js';
import { runtime } from './runtime.js';

// Workers started from now on can take tethered's error wrappers, and this realm's fetch keeps the fields
// of a blocked request's error (inert until activate() or a scope).
prepareRealm();
// A copy loaded where tethered is at work already (a test file's fresh module registry, a worker, another
// install): its callers get EgressBlocked from the start, as the first copy's do.
if (loadedShim() !== null) {
    runtime();
    installErrorMapping();
}

export { AllowPolicy, InvalidRuleError, parseRule } from './policy/index.js';
export { shimPath } from './native.js';
export { activate, deactivate, status } from './activate.js';
export type { ActivateOptions, Status } from './activate.js';
export { noEgress, scope } from './scope.js';
export type { NoEgressOptions, ScopeOptions } from './scope.js';
export { EgressBlocked, EgressViolation, TetheredLocked, isEgressBlocked } from './errors.js';
export type { EgressEvent, EgressOp, EgressReason } from './errors.js';
export { PolicyFileError, readPolicyFile } from './policy-file.js';
export type { PolicyFile } from './policy-file.js';
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
