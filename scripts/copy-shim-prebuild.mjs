// After prebuildify has put the addon in prebuilds/<platform>-<arch>/, put libtethered.so from the same
// build beside it: the loader (src/native.ts) takes the shim from wherever it found the addon.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'build', 'Release', 'libtethered.so');
const dir = join(root, 'prebuilds', `${platform()}-${arch()}`);
if (!existsSync(from)) {
    console.error(`copy-shim-prebuild: ${from} is missing; run prebuildify first`);
    process.exit(1);
}
mkdirSync(dir, { recursive: true });
copyFileSync(from, join(dir, 'libtethered.so'));
console.log(`copy-shim-prebuild: ${join(dir, 'libtethered.so')}`);
