import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { allocationsOf } from "../bench/allocations.ts";
import { createLogger } from "./log.ts";
import { profileOnSignal } from "./profiling.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

/** 40 MB of short-lived arrays: garbage by the next scavenge, none of it kept. */
function makeGarbage(): number {
  let n = 0;
  for (let i = 0; i < 10_000; i++) n += new Array(512).fill(i).length;
  return n;
}

async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe("profiles on SIGUSR2", () => {
  it("writes the CPU profile and, with allocations, where the process allocated, garbage included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tp-profile-"));
    const stop = profileOnSignal(dir, "test", createLogger("silent"), { allocations: true });
    try {
      process.kill(process.pid, "SIGUSR2");
      await new Promise((r) => setTimeout(r, 300));
      expect(makeGarbage()).toBe(10_000 * 512);
      process.kill(process.pid, "SIGUSR2");
      const name = join(dir, `test-${process.pid}-1`);
      await until(() => existsSync(`${name}.cpuprofile`), "the CPU profile");
      expect(existsSync(`${name}.heapprofile`)).toBe(true);
      const a = allocationsOf(`${name}.heapprofile`, REPO);
      // Sampled every 32 KB on average: an estimate, within a wide margin of the 40 MB made.
      expect(a.bytes).toBeGreaterThan(20e6);
      const garbage = a.byFunction.find((f) => f.at.startsWith("makeGarbage "));
      expect(garbage?.at).toContain("engine/profiling.test.ts");
      expect(garbage!.bytes).toBeGreaterThan(a.bytes / 2);
    } finally {
      stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
