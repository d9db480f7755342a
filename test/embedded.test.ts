/**
 * The embedded database (PGlite) admits one process: a second one is refused with a clear
 * message, and `npm run token` goes through the running server instead of opening the data
 * directory a second time.
 */
import { type ChildProcess, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteKeys, TEST_REDIS_URL } from "./support/harness.ts";
import { freePort, REPO, running, spawnTouchpoint, untilListening } from "./support/processes.ts";

describe("one process per embedded database", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "touchpoint-embedded-"));
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const admin = `embedded-admin-${randomBytes(12).toString("hex")}`;
  let port: number;
  let server: ChildProcess;
  const env = () => ({
    DATA_DIR: dataDir,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    ADMIN_TOKEN: admin,
    SEED_FIXTURES: "0",
    LOG_LEVEL: "error",
    PORT: String(port),
  });
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "main.ts", ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH, ...env() },
      encoding: "utf8",
      timeout: 60_000,
    });

  beforeAll(async () => {
    port = await freePort();
    server = spawnTouchpoint(env()).child;
    await untilListening(`http://127.0.0.1:${port}`);
  });
  afterAll(async () => {
    if (running(server)) server.kill("SIGKILL");
    await deleteKeys(prefix);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("makes a token through the running server, refuses a second server, and opens the database itself once alone", async () => {
    const made = run("token", "--role", "ingest", "--label", "card switch");
    expect(made.status, made.stderr).toBe(0);
    const token = made.stdout.trim();
    // The server knows the token at once: it wrote it.
    const post = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: "[]",
    });
    expect(post.status).toBe(400); // an empty batch, but the token was accepted (not 401)

    const second = run();
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/in use by another touchpoint \(pid \d+/);

    const refused = run("token", "--role", "supervisor", "--team", "no-such-team");
    expect(refused.status).toBe(2);
    // Through the running server, its answer's issues as JSON: the quotes come escaped.
    expect(refused.stderr).toMatch(/no advocate is in team \\?"no-such-team\\?"/);

    server.kill("SIGTERM");
    const [code] = await once(server, "exit");
    expect(code).toBe(0);
    expect(existsSync(join(dataDir, "touchpoint.lock"))).toBe(false);
    const alone = run("token", "--role", "risk");
    expect(alone.status, alone.stderr).toBe(0);
    expect(alone.stdout.trim()).toMatch(/^tp_/);
  });
});
