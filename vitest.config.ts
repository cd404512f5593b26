import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // integration tests talk to a real broker on a 2-core machine, where a rebalance can take seconds
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // integration tests share one broker; two workers match the machine's two cores
    maxWorkers: 2,
    reporters: ['default'],
  },
});
