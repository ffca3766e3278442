// After prebuildify has put the addon in prebuilds/<platform>-<arch>/, put libtethered.so and the strict-mode
// supervisor tethered-strict from the same build beside it: the loader (src/native.ts) takes them from
// wherever it found the addon.
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'prebuilds', `${platform()}-${arch()}`);
mkdirSync(dir, { recursive: true });
for (const name of ['libtethered.so', 'tethered-strict']) {
    const from = join(root, 'build', 'Release', name);
    if (!existsSync(from)) {
        console.error(`copy-shim-prebuild: ${from} is missing; run prebuildify first`);
        process.exit(1);
    }
    copyFileSync(from, join(dir, name));
    chmodSync(join(dir, name), 0o755);
    console.log(`copy-shim-prebuild: ${join(dir, name)}`);
}
