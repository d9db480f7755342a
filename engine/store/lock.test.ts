import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DataDirBusyError, takeLock } from "./lock.ts";

const dir = mkdtempSync(join(tmpdir(), "touchpoint-lock-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Several processes try to take one lock at the same instant; each says whether it got it. */
async function race(path: string, contenders: number): Promise<string[]> {
  const lock = new URL("./lock.ts", import.meta.url).pathname;
  const at = Date.now() + 1500;
  const script = `
    import { takeLock } from ${JSON.stringify(lock)};
    while (Date.now() < ${at}) {}
    try { takeLock(${JSON.stringify(path)}, "the data directory"); console.log("won"); }
    catch (e) { console.log(e.name === "DataDirBusyError" ? "busy" : "error " + e.message); }
    setInterval(() => {}, 1000);`;
  const children = Array.from({ length: contenders }, () =>
    spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    }),
  );
  // Each contender holds on (a winner keeps its lock) until every one has answered: on a loaded
  // machine one may start late, and must then meet the winner alive, not a lock it left behind.
  const answers = await Promise.all(
    children.map(
      (c) =>
        new Promise<string>((ok) => {
          let out = "";
          c.stdout?.on("data", (d) => {
            out += String(d);
            if (out.includes("\n")) ok(out.trim());
          });
          c.on("exit", () => ok(out.trim()));
        }),
    ),
  );
  for (const c of children) c.kill();
  await Promise.all(
    children.map((c) => (c.exitCode === null && c.signalCode === null ? once(c, "exit") : null)),
  );
  return answers;
}

/** A pid no process has now. */
function deadPid(): number {
  for (let pid = 4_000_000; ; pid--) {
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") return pid;
    }
  }
}

describe("one process per embedded data directory", () => {
  it("refuses a second taker, naming the first", () => {
    const path = join(dir, "one.lock");
    const held = takeLock(path, "the data directory");
    // The same process again stands in for another live one: its pid is in the lock and alive.
    const info = JSON.parse(readFileSync(path, "utf8"));
    writeFileSync(path, JSON.stringify({ ...info, pid: process.ppid }));
    expect(() => takeLock(path, "the data directory")).toThrow(DataDirBusyError);
    expect(() => takeLock(path, "the data directory")).toThrow(new RegExp(`pid ${process.ppid}`));
    writeFileSync(path, JSON.stringify(info));
    held.release();
  });

  it("lets exactly one of several processes starting at once take it", async () => {
    const results = await race(join(dir, "race.lock"), 6);
    expect(results.filter((r) => r === "won")).toHaveLength(1);
    expect(results.filter((r) => r === "busy")).toHaveLength(5);
  }, 30_000);

  it("lets exactly one of several processes take over a lock left by a process that died", async () => {
    const path = join(dir, "stale.lock");
    writeFileSync(path, JSON.stringify({ pid: deadPid(), startedAt: "2026-01-01T00:00:00Z" }));
    const results = await race(path, 6);
    expect(results.filter((r) => r === "won")).toHaveLength(1);
    expect(results.filter((r) => r === "busy")).toHaveLength(5);
  }, 30_000);
});
