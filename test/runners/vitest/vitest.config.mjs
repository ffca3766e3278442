// Every test runs inside noEgress() (tethered/vitest); the pool comes from the command line.
import { defineConfig } from 'vitest/config';
export default defineConfig({ test: { include: ['**/*.spec.mjs'], setupFiles: process.env.PLAIN ? [] : ['tethered/vitest', './setup.mjs'], fileParallelism: true } });
