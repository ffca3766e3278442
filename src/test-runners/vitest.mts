/**
 * Vitest: `test: { setupFiles: ['tethered/vitest'] }` runs every test inside noEgress(): a test that makes
 * a request that is not allowed fails with the attempts listed, even when it caught the error. Works in
 * the forks, threads and vmThreads pools (a scope is per thread and per async call tree, so files running
 * at once in other workers keep their own). `configure({ allow: [...] })` from 'tethered/vitest' sets
 * the rules for all tests of the file that calls it.
 */
import { aroundEach } from 'vitest';
import { noEgress } from '../index.js';
import { currentDefaults, setDefaults } from './wrap.js';

export { setDefaults as configure };

aroundEach(async (runTest, context) => {
    const options = currentDefaults();
    await noEgress({ ...options, label: options.label ?? context.task.name }, () => runTest());
});
