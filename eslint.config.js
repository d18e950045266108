// Lint rules. The import restrictions keep process layers apart:
// - shared/ is imported by both processes and imports from neither;
// - the engine, models, pipeline, store, server and CLI under main/ are plain
//   Node code that the CLI and tests run without Electron, so only
//   main/electron/ may import `electron`;
// - the renderer talks to the main process only through shared/ declarations.
import svelte from 'eslint-plugin-svelte';
import tseslint from 'typescript-eslint';

const electronImport = {
  name: 'electron',
  message: 'Only main/electron/ may import electron: the engine must run under plain Node.',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'renderer/dist/**', 'test-output/**', 'release/**', 'runs/**'] },
  ...tseslint.configs.recommended,
  ...svelte.configs['flat/recommended'],
  {
    files: ['renderer/**/*.svelte', 'renderer/**/*.svelte.ts'],
    languageOptions: {
      parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.svelte'] },
    },
    // The renderer's Maps, Sets and Dates are local lookups and non-reactive
    // buffers; reactive state lives in $state fields of the managers.
    rules: { 'svelte/prefer-svelte-reactivity': 'off' },
  },
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['shared/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [electronImport],
          patterns: [
            { group: ['**/main/**', '../main/*', '../../main/*'], message: 'shared/ must not import from main/.' },
            { group: ['**/renderer/**', '../renderer/*', '../../renderer/*'], message: 'shared/ must not import from renderer/.' },
            { group: ['node:*'], message: 'shared/ runs in the renderer too: no Node built-ins.' },
          ],
        },
      ],
    },
  },
  {
    files: ['main/**/*.ts'],
    ignores: ['main/electron/**'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [electronImport],
          patterns: [
            { group: ['electron/*'], message: electronImport.message },
            { group: ['**/renderer/**'], message: 'main/ must not import renderer code.' },
            { group: ['**/electron/**'], message: 'Node-only code must not import the Electron shell (main/electron/).' },
          ],
        },
      ],
    },
  },
  {
    files: ['renderer/**/*.ts', 'renderer/**/*.svelte'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [electronImport],
          patterns: [
            { group: ['**/main/**'], message: 'The renderer reaches the main process only through shared/ and the preload API.' },
            { group: ['node:*'], message: 'The renderer is sandboxed: no Node built-ins.' },
          ],
        },
      ],
    },
  },
  {
    files: ['scripts/**', 'test/**', 'bin/**', 'main/cli/**'],
    rules: { 'no-console': 'off' },
  },
);
