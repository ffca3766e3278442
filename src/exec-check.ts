/**
 * Can the libc layer follow this program? The same test the shim makes at every exec (native/shim/unchecked.c),
 * made by `tethered run` on COMMAND itself before it starts it: a statically linked program (no PT_INTERP),
 * one for another ELF class or machine, or a setuid/setgid one (the loader drops LD_PRELOAD for it) runs
 * with its network calls unchecked. A `#!` script is followed to its interpreter.
 */
import { accessSync, closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';

export type UncheckedKind = 'static' | 'foreign-elf' | 'setuid' | 'setgid';

export interface UncheckedProgram {
    readonly program: string;
    readonly kind: UncheckedKind;
}

/** The file execvp would run for `command`, or null. */
export function resolveCommand(command: string, path: string | undefined = process.env.PATH): string | null {
    if (command.includes('/')) return command;
    for (const dir of (path ?? '/bin:/usr/bin').split(delimiter)) {
        const candidate = join(dir || '.', command);
        try {
            accessSync(candidate, constants.X_OK);
            if (fstatOf(candidate)?.isFile()) return candidate;
        } catch {
            // not here
        }
    }
    return null;
}

function fstatOf(file: string) {
    let fd: number | undefined;
    try {
        fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
        return fstatSync(fd);
    } catch {
        return null;
    } finally {
        if (fd !== undefined) closeSync(fd);
    }
}

const ELF_MACHINE: Record<string, number> = { x64: 62, arm64: 183 };

/** Why `file` cannot be followed by the shim, or null when it can (or cannot be read: the exec will say). */
function inspect(file: string): UncheckedKind | { interpreter: string } | null {
    let fd: number;
    try {
        fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
        return null;
    }
    try {
        const st = fstatSync(fd);
        if (!st.isFile()) return null;
        const head = Buffer.alloc(256);
        const n = readSync(fd, head, 0, head.length, 0);
        if (n >= 2 && head[0] === 0x23 && head[1] === 0x21) {
            const line = head.subarray(2, n).toString('latin1').split('\n')[0] ?? '';
            const interpreter = line.trim().split(/[ \t]/)[0] ?? '';
            return interpreter ? { interpreter } : null;
        }
        if ((st.mode & 0o4000) !== 0 && st.uid !== process.getuid?.()) return 'setuid';
        if ((st.mode & 0o2000) !== 0 && (st.mode & 0o010) !== 0 && st.gid !== process.getgid?.()) return 'setgid';
        if (n < 64 || head.readUInt32BE(0) !== 0x7f454c46) return null;
        if (head[4] !== 2) return 'foreign-elf'; // not ELFCLASS64
        const machine = ELF_MACHINE[process.arch];
        if (machine !== undefined && head.readUInt16LE(18) !== machine) return 'foreign-elf';
        const phoff = Number(head.readBigUInt64LE(32));
        const phentsize = head.readUInt16LE(54);
        const phnum = Math.min(head.readUInt16LE(56), 64);
        if (phentsize !== 56) return null;
        const ph = Buffer.alloc(phnum * phentsize);
        const got = readSync(fd, ph, 0, ph.length, phoff);
        for (let i = 0; i + 1 <= got / phentsize; i++) if (ph.readUInt32LE(i * phentsize) === 3 /* PT_INTERP */) return null;
        const base = basename(file);
        return base.startsWith('ld-') && base.includes('.so') ? null : 'static';
    } catch {
        return null;
    } finally {
        closeSync(fd);
    }
}

/** The program COMMAND runs, if the shim cannot follow it. */
export function uncheckedProgram(command: string, path: string | undefined = process.env.PATH): UncheckedProgram | null {
    let file = resolveCommand(command, path);
    for (let depth = 0; file && depth < 5; depth++) {
        const r = inspect(file);
        if (r === null) return null;
        if (typeof r === 'string') return { program: file, kind: r };
        file = r.interpreter;
    }
    return null;
}

/** The warning the shim prints for the same program (unchecked.c), word for word. */
export function uncheckedWarning({ program, kind }: UncheckedProgram): string {
    const what =
        kind === 'static'
            ? ' is statically linked: the libc layer cannot follow it'
            : kind === 'foreign-elf'
              ? ' is built for another ELF class or machine: libtethered.so cannot be loaded into it'
              : ` is ${kind}: the loader drops LD_PRELOAD for it (secure execution)`;
    const privileges = kind === 'setuid' || kind === 'setgid' ? ' (it then runs without its privileges)' : '';
    return `tethered: warning: ${program}${what}, so its network calls are NOT checked. Run it under \`tethered run --strict\` to enforce the policy on it${privileges}.`;
}
