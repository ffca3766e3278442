/** The pure policy module: parse, normalise, match, explain. No I/O, no global state. */
export { AllowPolicy, normalRules } from './policy.js';
export type { AllowPolicyOptions, Explanation, ExplanationReason } from './policy.js';
export { InvalidRuleError } from './errors.js';
export { parseRule } from './rule.js';
export type { AddressRule, NameRule, PortRange, Rule, WildcardRule } from './rule.js';
export { normaliseDestination } from './destination.js';
export type { Destination } from './destination.js';
