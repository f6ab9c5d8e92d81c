/**
 * Loaded (node --import) into every unit-tier test process by scripts/test-tiers.mjs: a native
 * module load fails, so a test that reaches one does not pass as a unit test.
 */
process.dlopen = (_module, filename) => {
  throw new Error(`unit tier: ${filename} is a native module; this test belongs to the integration tier (docs/testing.md)`);
};
