import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/**
 * scripts/test.sh runs the suite once per supported Node line and says which in
 * SLUICE_EXPECT_NODE_MAJOR, so that a run on the wrong Node (a launcher that fell back to the
 * system one, workers started by another binary) fails instead of passing for the wrong version.
 */
describe('the Node this suite runs on', () => {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);

  it('is the major version the test script asked for (required when CI is set)', () => {
    const expected = process.env.SLUICE_EXPECT_NODE_MAJOR;
    if ((process.env.CI ?? '') !== '') {
      expect(expected ?? '', 'SLUICE_EXPECT_NODE_MAJOR (scripts/test.sh sets it)').toMatch(/^\d+$/);
    }
    if (expected !== undefined && expected !== '') expect(major).toBe(Number(expected));
  });

  it("satisfies package.json's engines", () => {
    const { engines } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };
    const [, floorMajor, floorMinor] = /^>=(\d+)\.(\d+)$/.exec(engines.node) ?? [];
    expect(floorMajor, `engines.node "${engines.node}" in the form >=MAJOR.MINOR`).toBeDefined();
    expect(major * 1000 + minor).toBeGreaterThanOrEqual(Number(floorMajor) * 1000 + Number(floorMinor));
  });
});
