/**
 * Host name rules, indexed so that a decision never scans the rule list: exact names in a hash map, wildcard
 * names in a tree of labels read right to left (`com` → `stripe` → …). A lookup costs one hash probe per label
 * of the destination, plus the in-label patterns (`api-*`) that sit at the same place in the tree.
 */
import { portMatches } from './ports.js';
import type { NameRule, WildcardRule } from './rule.js';

type HostRule = NameRule | WildcardRule;

interface GlobEdge {
    readonly label: string;
    readonly parts: readonly string[];
    readonly node: LabelNode;
}

class LabelNode {
    readonly exact = new Map<string, LabelNode>();
    readonly globs: GlobEdge[] = [];
    /** Rules whose pattern ends exactly here (`api-*.stripe.com` at `com/stripe/api-*`). */
    readonly terminal: HostRule[] = [];
    /** `*.stripe.com` at `com/stripe`: matches when at least one more label remains. */
    readonly oneOrMore: HostRule[] = [];

    child(label: string): LabelNode {
        if (!label.includes('*')) {
            let next = this.exact.get(label);
            if (!next) this.exact.set(label, (next = new LabelNode()));
            return next;
        }
        let edge = this.globs.find((g) => g.label === label);
        if (!edge) {
            edge = { label, parts: label.split('*'), node: new LabelNode() };
            this.globs.push(edge);
        }
        return edge.node;
    }
}

/** `parts` is a label split at its `*`s; a `*` matches any run of characters within the one label. */
export function globMatches(parts: readonly string[], label: string): boolean {
    const first = parts[0] as string;
    const last = parts[parts.length - 1] as string;
    if (label.length < first.length + last.length || !label.startsWith(first) || !label.endsWith(last)) return false;
    let at = first.length;
    const end = label.length - last.length;
    for (let i = 1; i < parts.length - 1; i++) {
        const found = label.indexOf(parts[i] as string, at);
        if (found < 0 || found + (parts[i] as string).length > end) return false;
        at = found + (parts[i] as string).length;
    }
    return true;
}

function firstWithPort(rules: readonly HostRule[], port: number): HostRule | null {
    for (const rule of rules) if (portMatches(rule.ports, port)) return rule;
    return null;
}

export class NameIndex {
    readonly #exact = new Map<string, HostRule[]>();
    readonly #root = new LabelNode();
    #hasWildcards = false;

    add(rule: HostRule): void {
        if (rule.kind === 'name') {
            const list = this.#exact.get(rule.name);
            if (list) list.push(rule);
            else this.#exact.set(rule.name, [rule]);
            return;
        }
        this.#hasWildcards = true;
        const labels = rule.labels;
        const oneOrMore = labels[0] === '*';
        let node = this.#root;
        for (let i = labels.length - 1; i >= (oneOrMore ? 1 : 0); i--) node = node.child(labels[i] as string);
        (oneOrMore ? node.oneOrMore : node.terminal).push(rule);
    }

    /**
     * The most specific rule that matches `name` (normal form) and `port`: an exact name first, then the
     * wildcard whose literal part reaches furthest into the name. null when none does.
     */
    match(name: string, port: number): HostRule | null {
        const exact = this.#exact.get(name);
        if (exact) {
            const rule = firstWithPort(exact, port);
            if (rule) return rule;
        }
        if (!this.#hasWildcards) return null;
        const labels = name.split('.');
        return walk(this.#root, labels, labels.length, port);
    }
}

/** `remaining` labels of `labels` (from the left) are still to be matched below `node`. */
function walk(node: LabelNode, labels: readonly string[], remaining: number, port: number): HostRule | null {
    if (remaining === 0) return firstWithPort(node.terminal, port);
    const label = labels[remaining - 1] as string;
    const next = node.exact.get(label);
    if (next) {
        const rule = walk(next, labels, remaining - 1, port);
        if (rule) return rule;
    }
    for (const edge of node.globs) {
        if (!globMatches(edge.parts, label)) continue;
        const rule = walk(edge.node, labels, remaining - 1, port);
        if (rule) return rule;
    }
    return node.oneOrMore.length > 0 ? firstWithPort(node.oneOrMore, port) : null;
}
