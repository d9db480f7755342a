/** axe-core (node_modules/axe-core/axe.min.js) run in a desk page, for the accessibility checks. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { AxeResults } from "axe-core";
import type { Page } from "playwright-core";
import { REPO } from "./processes.ts";

const AXE_SOURCE = readFileSync(join(REPO, "node_modules/axe-core/axe.min.js"), "utf8");

export interface Violation {
  id: string;
  impact: string;
  help: string;
  /** The offending elements, as CSS selectors. */
  targets: string[];
}

/**
 * The page's critical and serious violations, as axe sees the page now. axe goes in through
 * the DevTools protocol, as a script of the test's own: the desk's CSP (only its own script, no
 * eval) stays in force for everything else on the page.
 */
export async function seriousViolations(page: Page): Promise<Violation[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document): Promise<AxeResults> } }).axe;
    const results = await axe.run(document);
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? "unknown",
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(" ")),
    }));
  });
  return violations.filter((v) => v.impact === "critical" || v.impact === "serious");
}

/** One line per violation: its id, its impact, what it asks, and where. */
export function describeViolations(where: string, violations: readonly Violation[]): string {
  return violations
    .map((v) => `${where}: ${v.id} (${v.impact}: ${v.help}) at ${v.targets.join(", ")}`)
    .join("\n");
}
