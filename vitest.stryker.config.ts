/**
 * The unit suites of the pure core, for `npm run mutate` (Stryker): no Redis or child processes.
 * api/auth.test.ts alone uses Postgres (its own database): token look-up is a query.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "engine/cases/routing.test.ts",
      "engine/outreach/policy.test.ts",
      "engine/outreach/replies.test.ts",
      "engine/outreach/signature.test.ts",
      "engine/outreach/templates.test.ts",
      "engine/features/geo.test.ts",
      "engine/rules/*.test.ts",
      "engine/events.test.ts",
      "engine/input.test.ts",
      "engine/log.test.ts",
      "api/auth.test.ts",
      "rules/rules.test.ts",
    ],
  },
});
