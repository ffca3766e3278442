// Type-aware lint for the TypeScript sources; the recommended rules for the JavaScript tests and scripts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
    { ignores: ['dist/', 'build/', 'prebuilds/', 'node_modules/', 'bench/results/'] },
    js.configs.recommended,
    {
        files: ['src/**/*.ts', 'src/**/*.mts'],
        extends: [...tseslint.configs.strictTypeChecked],
        languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
        rules: {
            '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
            '@typescript-eslint/no-unnecessary-condition': 'off',
            '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
        },
    },
    {
        files: ['**/*.mjs', '**/*.js', '**/*.cjs'],
        languageOptions: {
            globals: Object.fromEntries(
                ['process', 'console', 'Buffer', 'URL', 'fetch', 'setTimeout', 'clearTimeout', 'setImmediate', 'setInterval', 'clearInterval', 'AbortController', 'AbortSignal', 'performance', 'TextEncoder', 'TextDecoder', 'structuredClone', 'queueMicrotask'].map((name) => [name, 'readonly']),
            ),
        },
    },
);
