/** The child redis-server started when no Redis answers lives no longer than the process that started it. */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../../fixtures/stories.ts";
import { createLogger, type Logger } from "../log.ts";
import { freePort } from "./database.ts";
import { checkEvictionPolicy, ensureRedis, redisAnswers } from "./redis.ts";

/** True while `pid` runs (a zombie waiting for its parent to reap it counts as gone). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.[0] !== "Z";
  } catch {
    return false;
  }
}

async function redisPid(url: string): Promise<number> {
  const probe = new Redis(url);
  const info = await probe.info("server");
  await probe.quit();
  return Number(/process_id:(\d+)/.exec(info)?.[1]);
}

/** A process of its own that calls ensureRedis, says "ready" and waits to be killed. */
function appStartingRedis(url: string, dataDir: string): ChildProcess {
  const code = `
    const { ensureRedis } = await import(${JSON.stringify(new URL("./redis.ts", import.meta.url).pathname)});
    const { createLogger } = await import(${JSON.stringify(new URL("../log.ts", import.meta.url).pathname)});
    await ensureRedis(${JSON.stringify(url)}, ${JSON.stringify(dataDir)}, createLogger("silent"));
    process.stdout.write("ready\\n");
    setInterval(() => {}, 60_000);`;
  return spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    stdio: ["ignore", "pipe", "inherit"],
  });
}

describe("the child redis-server", () => {
  const cleanups: Array<() => void> = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("stops when the process that started it is killed with SIGKILL", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const dataDir = mkdtempSync(join(tmpdir(), "touchpoint-redis-"));
    const app = appStartingRedis(url, dataDir);
    let pid = 0;
    cleanups.push(() => {
      if (app.exitCode === null && app.signalCode === null) app.kill("SIGKILL");
      // Never leave one behind, whatever the test found.
      if (pid && alive(pid)) process.kill(pid, "SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    });
    const [line] = await once(app.stdout!, "data");
    expect(String(line)).toBe("ready\n");
    pid = await redisPid(url);
    expect(alive(pid)).toBe(true);

    app.kill("SIGKILL");
    await once(app, "exit");
    await eventually(async () => (!alive(pid) ? true : undefined), 10_000, "redis-server to stop");
    expect(await redisAnswers(url)).toBe(false);
  });

  it("stops when the process that started it stops it", async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const dataDir = mkdtempSync(join(tmpdir(), "touchpoint-redis-"));
    const handle = await ensureRedis(url, dataDir, createLogger("silent"));
    const pid = await redisPid(url);
    cleanups.push(() => {
      if (alive(pid)) process.kill(pid, "SIGKILL");
      rmSync(dataDir, { recursive: true, force: true });
    });
    await handle.stop();
    await eventually(async () => (!alive(pid) ? true : undefined), 10_000, "redis-server to stop");
    expect(await redisAnswers(url)).toBe(false);
  });
});

describe("the eviction policy", () => {
  it("says nothing for noeviction, and logs an error naming any other policy", async () => {
    const lines: Array<{ msg: string; policy?: string }> = [];
    const log = {
      error: (o: { policy?: string }, msg: string) => lines.push({ msg, ...o }),
    } as unknown as Logger;
    const answer = (policy: string) =>
      ({ config: async () => ["maxmemory-policy", policy] }) as unknown as Redis;
    expect(await checkEvictionPolicy(answer("noeviction"), log)).toBe("noeviction");
    expect(lines).toEqual([]);
    await checkEvictionPolicy(answer("volatile-lru"), log);
    expect(lines).toEqual([{ policy: "volatile-lru", msg: expect.stringMatching(/noeviction/) }]);
    // A Redis that refuses CONFIG (some managed services) is taken on trust.
    const refusing = { config: async () => Promise.reject(new Error("ERR unknown command 'CONFIG'")) };
    expect(await checkEvictionPolicy(refusing as unknown as Redis, log)).toBeUndefined();
    expect(lines).toHaveLength(1);
  });

  it("reads the real Redis's policy", async () => {
    const redis = new Redis(process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379");
    try {
      expect(await checkEvictionPolicy(redis, createLogger("silent"))).toEqual(expect.any(String));
    } finally {
      redis.disconnect();
    }
  });
});
