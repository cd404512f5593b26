import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 180_000,
    // integration tests share one broker; two workers match the machine's two cores
    maxWorkers: 2,
    reporters: ['default'],
  },
});
