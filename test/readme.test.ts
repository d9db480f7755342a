/** What the program tells people to read in the README is there. */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "./support/processes.ts";

/** The program's own sources: what it logs and answers comes from these. */
function sources(dir: string): string[] {
  return readdirSync(join(REPO, dir), { withFileTypes: true, recursive: true })
    .filter((f) => f.isFile() && /\.tsx?$/.test(f.name) && !/\.test\.tsx?$/.test(f.name))
    .map((f) => join(f.parentPath, f.name));
}

describe("the README", () => {
  it("has every section a message sends people to", () => {
    const headings = readFileSync(join(REPO, "README.md"), "utf8")
      .split("\n")
      .filter((l) => l.startsWith("#"))
      .map((l) => l.replace(/^#+\s*/, ""));
    const files = [
      join(REPO, "main.ts"),
      join(REPO, "cli.ts"),
      ...["engine", "api", "workers"].flatMap(sources),
    ];
    const pointers = files.flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/README[,:]? (?:section )?['"‘“*]([^'"’”*]+)['"’”*]/g)].map(
        (m) => ({
          file: f.slice(REPO.length),
          section: m[1]!,
        }),
      ),
    );
    expect(pointers.length).toBeGreaterThan(0);
    for (const p of pointers) expect(headings, `${p.file} points to '${p.section}'`).toContain(p.section);
  });
});
