/** Tests run from TypeScript source through SWC (fast, no type-check: `npm run typecheck` does that). */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022' } }] },
  testTimeout: 60000,
  // Integration tests start real emulators and hosts; two workers fit a 2-core machine.
  maxWorkers: process.env.CI ? 2 : '50%',
};
