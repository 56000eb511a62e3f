import { configDefaults, defineConfig } from 'vitest/config';

/** Tests that run the built package: the CLI binary, gateway processes, dist/client in Chromium. */
const DIST_TESTS = [
  'test/process/**/*.test.ts',
  'test/browser/**/*.test.ts',
  'test/cli/**/*.test.ts',
  'test/client/browser.test.ts',
];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'source',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...DIST_TESTS],
        },
      },
      // Its global setup runs only when one of these files is in the run: it builds dist/ when stale.
      { extends: true, test: { name: 'dist', include: DIST_TESTS, globalSetup: ['test/setup/dist.ts'] } },
    ],
  },
});
