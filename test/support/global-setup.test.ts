/**
 * The run's own servers: started when nothing answers at the default addresses (here, free ports
 * nothing listens on), gone at the end of the run, and gone too when the run dies without ending.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { redisAnswers } from "../../engine/store/redis.ts";
import { eventually } from "../../fixtures/stories.ts";
import { ensureTestServers, RedisServerMissingError, type TestServersOptions } from "./global-setup.ts";
import { freePort, REPO } from "./processes.ts";
import { postgresAnswers } from "./throwaway-postgres.ts";

async function nothingAnswers(): Promise<TestServersOptions> {
  return {
    defaultDatabaseUrl: `postgres://postgres@127.0.0.1:${await freePort()}/postgres`,
    defaultRedisUrl: `redis://127.0.0.1:${await freePort()}`,
    ownPostgres: false,
    ownRedis: false,
    say: () => {},
  };
}

/** Where each server keeps its data (the directory the run made for it is its parent for Postgres). */
async function directories(databaseUrl: string, redisUrl: string) {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const [row] = await sql`select current_setting('data_directory') as dir, version() as version`;
  await sql.end();
  const r = new Redis(redisUrl);
  const [, redisDir] = (await r.config("GET", "dir")) as [string, string];
  await r.quit();
  return { postgres: dirname(row?.dir as string), redis: dirname(redisDir), version: row?.version as string };
}

describe("the run's own Postgres and Redis", () => {
  it("are started when nothing answers at the default addresses, and stopped and removed at the end", async () => {
    const servers = await ensureTestServers(await nothingAnswers());
    const dirs = await directories(servers.databaseUrl, servers.redisUrl);
    expect(dirs.version).toMatch(/^PostgreSQL \d+/);
    expect(existsSync(dirs.postgres) && existsSync(dirs.redis)).toBe(true);

    await servers.stop();
    expect(await postgresAnswers(servers.databaseUrl)).toBe(false);
    expect(await redisAnswers(servers.redisUrl)).toBe(false);
    expect(existsSync(dirs.postgres) || existsSync(dirs.redis)).toBe(false);
  });

  it("are stopped and removed by the watchdog when the run is killed before its end", async () => {
    const o = await nothingAnswers();
    const run = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `const { ensureTestServers } = await import("./test/support/global-setup.ts");
         const s = await ensureTestServers({ ...${JSON.stringify(o)}, say: () => {} });
         process.stdout.write(JSON.stringify(s) + "\\n");
         setInterval(() => {}, 1000);`,
      ],
      { cwd: REPO, stdio: ["ignore", "pipe", "inherit"] },
    );
    const line = await new Promise<string>((ok, fail) => {
      let out = "";
      run.stdout?.on("data", (d) => {
        out += String(d);
        if (out.includes("\n")) ok(out);
      });
      run.once("exit", (code) => fail(new Error(`the run ended (${code}) before starting its servers`)));
    });
    const servers = JSON.parse(line) as { databaseUrl: string; redisUrl: string };
    const dirs = await directories(servers.databaseUrl, servers.redisUrl);

    run.kill("SIGKILL");
    await eventually(
      async () =>
        !existsSync(dirs.postgres) &&
        !existsSync(dirs.redis) &&
        !(await postgresAnswers(servers.databaseUrl)) &&
        !(await redisAnswers(servers.redisUrl))
          ? true
          : undefined,
      20_000,
      "the watchdog to stop the servers and remove their directories",
    );
  });

  it("says in one line how to get redis-server when none answers and none is installed", async () => {
    const path = process.env.PATH;
    const empty = mkdtempSync(join(tmpdir(), "touchpoint-no-redis-"));
    process.env.PATH = empty;
    try {
      const failed = await ensureTestServers({
        ...(await nothingAnswers()),
        databaseUrl: "postgres://unused@127.0.0.1:1/unused",
      }).then(
        (started) => started.stop(),
        (e: unknown) => e,
      );
      expect(failed).toBeInstanceOf(RedisServerMissingError);
      expect((failed as Error).message).toMatch(
        /^no Redis answers at redis:\/\/127\.0\.0\.1:\d+ and redis-server is not installed: install it \(Debian/,
      );
      expect((failed as Error).message).not.toContain("\n");
    } finally {
      process.env.PATH = path;
      rmSync(empty, { recursive: true });
    }
  });
});
