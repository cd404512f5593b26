import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // stops, when the run ends, the local broker the run started (KEEP_KAFKA=1 keeps it running)
    globalSetup: ['test/support/kafka-global-setup.ts'],
    // stopping that broker takes a few seconds (up to 30 before kafka.sh kills it)
    teardownTimeout: 60_000,
    // integration tests talk to a real broker on a 2-core machine, where a rebalance can take seconds
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // integration tests share one broker; two workers match the machine's two cores
    maxWorkers: 2,
    reporters: ['default'],
  },
});
