/**
 * The error a bad rule raises. Its message quotes the rule, says what is wrong with it, and how to write it.
 */
export class InvalidRuleError extends Error {
    readonly code = 'ERR_TETHERED_INVALID_RULE';
    /** The rule exactly as it was given. */
    readonly rule: string;
    /** What is wrong with it, in a few words. */
    readonly reason: string;
    /** How to write it instead, when there is a good guess. */
    readonly hint: string | null;

    constructor(rule: string, reason: string, hint: string | null = null) {
        super(`Invalid tethered rule ${JSON.stringify(rule)}: ${reason}${hint ? ` — ${hint}` : ''}`);
        this.name = 'InvalidRuleError';
        this.rule = rule;
        this.reason = reason;
        this.hint = hint;
    }
}
