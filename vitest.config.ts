import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["**/*.test.ts"],
    exclude: ["node_modules/**", "data/**"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end suites each start a whole touchpoint; two at a time suits a 2-core machine.
    maxWorkers: 2,
  },
});
