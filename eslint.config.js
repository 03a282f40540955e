// Lint: typescript-eslint's type-aware rules plus Berth's house rules (STYLE.md section 5).
// Layering is checked by dependency-cruiser (.dependency-cruiser.cjs).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'src/api/gen/', '.bench-tmp/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner itself tracks.
          allowForKnownSafeCalls: [
            { from: 'package', name: ['describe', 'it', 'test', 'suite'], package: 'node:test' },
          ],
        },
      ],
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: "Program > VariableDeclaration[kind='let']",
          message: 'No module-level mutable state (STYLE 5.5): keep it on an instance.',
        },
      ],
    },
  },
  {
    files: ['src/**/*.ts'],
    // The places children are started: Exec (short-lived, bounded), the conmon launcher (detached) and
    // interactive processes (streaming exec and port-forward dialers).
    ignores: ['src/base/exec.ts', 'src/base/spawn-sync-pipe.ts', 'src/base/interactive-process.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:child_process', message: 'Spawn children through base/exec.ts (STYLE 5.7).' },
            { name: 'child_process', message: 'Spawn children through base/exec.ts (STYLE 5.7).' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { module: 'writable', require: 'readonly' } },
  },
);
