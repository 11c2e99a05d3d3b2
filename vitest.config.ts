import { defineConfig } from 'vitest/config';

// One test tree (specs/), one Kafka broker for the whole run (started in globalSetup unless
// KAFKA_BROKERS points at one), forks so each test file gets its own tfjs engine.
export default defineConfig({
  test: {
    include: ['specs/**/*.spec.ts'],
    globalSetup: ['specs/harness/globalSetup.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default', './specs/harness/summaryReporter.ts'],
    typecheck: { enabled: true, include: ['specs/**/*.test-d.ts'], tsconfig: './tsconfig.json' },
  },
});
