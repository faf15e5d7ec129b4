// ESLint 9 flat config (`npm run lint`: lib, sample, test and bench). TypeScript files get
// typescript-eslint's type-checked recommended rules (type information from tsconfig.json through
// the project service), so promise mistakes (no-floating-promises, no-misused-promises, await-thenable,
// only-throw-error) are caught. Rules turned off below flag choices this code base makes on purpose.
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', '**/node_modules/', 'sample/data/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Unused names are errors, except `_`-prefixed ones (`for await (const _ of ...)`) and parameters:
      // a cached method's parameters are its cache key even when its body does not read them.
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none', destructuredArrayIgnorePattern: '^_' }],
      // Re-rejecting a caught value (`catch (error) { return Promise.reject(error) }`) keeps it as thrown.
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      // Hot paths are written without `await` but stay `async` so that a throw becomes a rejection.
      '@typescript-eslint/require-await': 'off',
      // `xs[i]!` is written as if noUncheckedIndexedAccess were on: the `!` marks where a value is known
      // to exist; the rule calls it unnecessary because the option is off.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // `any` arrives on purpose at the edges (Reflect metadata, decorator descriptors, options checked
      // field by field at start-up); `unknown` is used everywhere else and strict mode rejects implicit any.
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      // Classes are keyed and passed as `Function`, the type Nest's own metadata APIs use.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      // User callbacks (`authorize`, a rule's `args`/`invalidate`), test APIs (`describe`, `it`) and
      // static Buffer methods are declared with method syntax and called detached on purpose.
      '@typescript-eslint/unbound-method': 'off',
      // `String(x)` is how keys, tags and messages spell values of unknown shape, on purpose.
      '@typescript-eslint/no-base-to-string': 'off',
    },
  },
  {
    files: ['**/*.{js,mjs,cjs}'],
    languageOptions: { globals: globals.node },
  },
);
