/**
 * Where a socket's system call happens: the methods of Node's TCP and UDP handles (connect, connect6; send,
 * send6), called from JavaScript in the socket's async context, make connect(2) or sendmsg(2) before they
 * return. Around that call the wrapper tells the shim which scope the caller is in, through the thread's word
 * (the addon's scopeWord and scopeEnter), so the hook does not call back into JavaScript to ask: that costs
 * about 2 us (a read of the signal mask and a call into the engine) on every attempt once any scope was made.
 * The hooks still judge; what the word says is what the shim's own question would have been answered.
 */
import { perThread } from '../shared.js';
import { currentFrame, runtime, scopesMade } from '../runtime.js';
import { wordView, type NativeScope } from '../native.js';
import type { Method } from './state.js';

const NO_SCOPE = 1;
// Once per thread: the handle classes are per thread, and so is the word.
const entry = perThread('scopeWord', () => ({
    patched: new Set<string>(),
    word: undefined as Uint32Array | null | undefined,
    entered: null as NativeScope | null,
    number: 0,
}));

function scopeWord(): Uint32Array | null {
    if (entry.word === undefined) entry.word = wordView(() => runtime().addon.scopeWord());
    return entry.word;
}

/** `native`, called with the thread's word speaking for the caller's scope (see the file's header). */
export function sayScope(native: Method): Method {
    return function (this: unknown, ...args: unknown[]): unknown {
        // No scope made on this thread: none can be current, and reading the context would cost the one
        // request in a process that never uses scopes (a scope made on another thread: the shim asks).
        if (!scopesMade.any) return Reflect.apply(native, this, args);
        const word = scopeWord();
        if (word === null) return Reflect.apply(native, this, args);
        const frame = currentFrame();
        if (frame === null) {
            word[0] = NO_SCOPE;
        } else {
            if (entry.entered !== frame.native) {
                try {
                    entry.number = runtime().addon.scopeEnter(frame.native);
                    entry.entered = frame.native;
                } catch {
                    return Reflect.apply(native, this, args); // the shim asks, as without this
                }
            }
            word[0] = entry.number;
        }
        try {
            return Reflect.apply(native, this, args);
        } finally {
            word[0] = 0;
        }
    };
}

/** Wraps `methods` of the class of handle() when it is Node's `className`; once per class and thread. */
export function sayScopeOn(className: string, methods: readonly string[], handleOf: () => unknown): void {
    if (entry.patched.has(className)) return;
    const handle = handleOf();
    if (handle === null || typeof handle !== 'object') return;
    const proto: unknown = Object.getPrototypeOf(handle);
    if (proto === null || typeof proto !== 'object' || (proto as { constructor?: { name?: unknown } }).constructor?.name !== className) return;
    entry.patched.add(className);
    for (const name of methods) {
        const native: unknown = Reflect.get(proto, name);
        if (typeof native === 'function') Reflect.set(proto, name, sayScope(native as Method));
    }
}

/**
 * The word, while it speaks for a wrapped handle call that is running now (JavaScript can run inside one:
 * an async_hooks init callback), else null: whoever changes the scope there (scope(), noEgress()) must
 * silence it for that time, or the hooks would take the call's scope for theirs.
 */
export function wordSpeaking(): Uint32Array | null {
    const word = entry.word;
    return word && word[0] !== 0 ? word : null;
}
