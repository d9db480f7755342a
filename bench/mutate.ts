/**
 * `npm run mutate`: Stryker over the pure core, one group of modules at a time, each with only the
 * test files that speak for it, then the score per module.
 *
 * Why groups: a schema module builds its zod schemas when it is imported, so nearly every mutant
 * of it is "static" and Stryker must run every test it is given for each one. Given the whole unit
 * set (the auth suite with its Postgres included), schema.ts alone took an estimated 30 hours;
 * given the rule tests only, minutes.
 *
 *   npm run mutate                 every group
 *   npm run mutate -- rules auth   only those groups
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const GROUPS: Record<string, { mutate: string[]; tests: string[] }> = {
  rules: {
    mutate: [
      "engine/rules/schema.ts",
      "engine/rules/facts.ts",
      "engine/rules/testing.ts",
      "engine/rules/diff.ts",
      "engine/features/money.ts",
      "engine/features/places.ts",
    ],
    // Not compile.test.ts: its property runs take seconds, and each static mutant (a catalogue
    // entry, a schema built on import) would run them; it speaks for compile.ts, not mutated here.
    tests: [
      "engine/rules/schema.test.ts",
      "engine/rules/facts.test.ts",
      "engine/rules/testing.test.ts",
      "engine/rules/diff.test.ts",
      "engine/rules/reference.test.ts",
      "rules/rules.test.ts",
      "engine/features/money.test.ts",
    ],
  },
  outreach: {
    mutate: [
      "engine/outreach/policy.ts",
      "engine/outreach/replies.ts",
      "engine/outreach/signature.ts",
      "engine/outreach/templates.ts",
    ],
    tests: [
      "engine/outreach/policy.test.ts",
      "engine/outreach/replies.test.ts",
      "engine/outreach/signature.test.ts",
      "engine/outreach/templates.test.ts",
      "engine/log.test.ts",
    ],
  },
  core: {
    mutate: ["engine/cases/routing.ts", "engine/features/geo.ts", "engine/events.ts"],
    tests: [
      "engine/cases/routing.test.ts",
      "engine/features/geo.test.ts",
      "engine/events.test.ts",
      "engine/input.test.ts",
    ],
  },
  auth: { mutate: ["api/auth.ts"], tests: ["api/auth.test.ts"] },
};

const dir = ".stryker-tmp-configs";
const wanted = process.argv.slice(2).filter((a) => a !== "--");
const unknown = wanted.filter((g) => !(g in GROUPS));
if (unknown.length > 0) {
  process.stderr.write(`unknown group(s) ${unknown.join(", ")}; groups: ${Object.keys(GROUPS).join(", ")}\n`);
  process.exit(2);
}
const base = JSON.parse(readFileSync("stryker.config.json", "utf8")) as Record<string, unknown>;
mkdirSync(dir, { recursive: true });
const rows: Array<{ file: string; killed: number; survived: number; noCoverage: number; score: number }> = [];
let failed = false;
for (const name of wanted.length > 0 ? wanted : Object.keys(GROUPS)) {
  const group = GROUPS[name]!;
  const vitestConfig = join(dir, `vitest.${name}.config.ts`);
  writeFileSync(
    vitestConfig,
    `import { defineConfig } from "vitest/config";\nexport default defineConfig({ test: { include: ${JSON.stringify(group.tests)} } });\n`,
  );
  const report = `reports/mutation/${name}.json`;
  const config = join(dir, `stryker.${name}.json`);
  writeFileSync(
    config,
    JSON.stringify({
      ...base,
      mutate: group.mutate,
      vitest: { configFile: vitestConfig },
      tempDirName: `.stryker-tmp-${name}`,
      reporters: ["clear-text", "progress", "json", "html"],
      jsonReporter: { fileName: report },
      htmlReporter: { fileName: `reports/mutation/${name}.html` },
    }),
  );
  process.stdout.write(`\n== ${name}: ${group.mutate.join(", ")}\n`);
  const run = spawnSync("npx", ["stryker", "run", config], { stdio: "inherit" });
  if (run.status !== 0) {
    failed = true;
    continue;
  }
  const result = JSON.parse(readFileSync(report, "utf8")) as {
    files: Record<string, { mutants: Array<{ status: string }> }>;
  };
  for (const [file, { mutants }] of Object.entries(result.files)) {
    const count = (...s: string[]) => mutants.filter((m) => s.includes(m.status)).length;
    const killed = count("Killed", "Timeout");
    const survived = count("Survived");
    const noCoverage = count("NoCoverage");
    const valid = killed + survived + noCoverage;
    rows.push({ file, killed, survived, noCoverage, score: valid > 0 ? (killed / valid) * 100 : 100 });
  }
}
rmSync(dir, { recursive: true, force: true });
process.stdout.write("\nmutation score per module (killed / (killed + survived + no coverage)):\n");
for (const r of rows.sort((a, b) => a.file.localeCompare(b.file))) {
  process.stdout.write(
    `  ${r.file.padEnd(34)} ${r.score.toFixed(1).padStart(5)}%  killed ${r.killed}, survived ${r.survived}, no coverage ${r.noCoverage}\n`,
  );
}
process.exit(failed ? 1 : 0);
