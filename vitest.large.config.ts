import { defineConfig } from 'vitest/config';

// `make test-large`: multi-gigabyte messages, run only on request (MPWIRE_LARGE=1), never by `make test`.
export default defineConfig({
  test: {
    include: ['interop-tests/**/*.large-test.ts'],
    testTimeout: 600_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});
