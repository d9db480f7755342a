/**
 * The Redis connection. When REDIS_URL points at this machine and nothing answers, start a child
 * `redis-server` with its data under DATA_DIR (append-only, never evicting queue keys).
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { Redis, type RedisOptions } from "ioredis";
import type { Logger } from "../log.ts";

export class RedisUnavailableError extends Error {
  override readonly name = "RedisUnavailableError";
}

/** True when a Redis at `url` answers PING within 1.5 s. */
/**
 * Says loudly when Redis may evict keys (any `maxmemory-policy` but `noeviction`): an evicted job
 * is re-driven from Postgres, but a customer's evicted newer state under a built mark that stayed
 * is a detection missed. Managed Redis services often default to `volatile-lru`, and every state
 * key has a TTL. A Redis that refuses CONFIG (some managed ones) is taken on trust.
 */
export async function checkEvictionPolicy(redis: Redis, log: Logger): Promise<string | undefined> {
  const policy = await redis
    .config("GET", "maxmemory-policy")
    .then((r) => (r as string[])[1])
    .catch(() => undefined);
  if (policy !== undefined && policy !== "noeviction")
    log.error(
      { policy },
      "Redis may evict keys (maxmemory-policy is not noeviction): queued work is re-driven from Postgres, but customer state may be lost and detections missed; set maxmemory-policy noeviction",
    );
  return policy;
}

export async function redisAnswers(url: string): Promise<boolean> {
  const probe = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: 1500,
  });
  probe.on("error", () => {});
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * Runs redis-server (its arguments after `--`) and stops it (SIGTERM, SIGKILL 10 s later) when
 * its stdin closes: the parent holds the other end, and the kernel closes it however the parent
 * ends, SIGKILL included, so the child Redis never outlives touchpoint. Exits as redis-server does.
 */
const WATCHDOG = `
const { spawn } = require("node:child_process");
const redis = spawn("redis-server", process.argv.slice(1), { stdio: ["ignore", "ignore", "inherit"] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  redis.kill("SIGTERM");
  setTimeout(() => redis.kill("SIGKILL"), 10000);
};
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, stop);
redis.on("error", (err) => { process.stderr.write("redis-server: " + err.message + "\\n"); process.exit(127); });
redis.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
`;

export interface RedisHandle {
  url: string;
  /** The watchdog of the child redis-server (see WATCHDOG), when we started one. */
  child?: ChildProcess;
  stop(): Promise<void>;
}

/** Makes sure a Redis answers at `url`, starting a child redis-server if allowed and needed. */
export async function ensureRedis(url: string, dataDir: string, log: Logger): Promise<RedisHandle> {
  if (await redisAnswers(url)) return { url, stop: async () => {} };
  const u = new URL(url);
  const local = ["127.0.0.1", "localhost", "::1", "[::1]"].includes(u.hostname);
  const installed = spawnSync("redis-server", ["--version"], { stdio: "ignore" }).status === 0;
  if (!local || !installed) {
    throw new RedisUnavailableError(
      `no Redis answers at REDIS_URL=${u.protocol}//${u.host}` +
        (local
          ? "; install one (Debian: apt-get install redis-server) or set REDIS_URL"
          : "; check REDIS_URL and that Redis is running"),
    );
  }
  const dir = resolve(dataDir, "redis");
  mkdirSync(dir, { recursive: true });
  const port = u.port || "6379";
  const child = spawn(
    process.execPath,
    [
      "-e",
      WATCHDOG,
      "--",
      "--port",
      port,
      "--bind",
      "127.0.0.1",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--save",
      "",
      "--maxmemory-policy",
      "noeviction",
      "--protected-mode",
      "yes",
    ],
    // Its stdin is the watchdog's tie to this process; NODE_OPTIONS could load tsx into it for nothing.
    // Detached (a process group of its own): a Ctrl-C in the terminal reaches touchpoint alone,
    // whose shutdown drains the workers against a Redis still up, then closes the pipe.
    { stdio: ["pipe", "ignore", "inherit"], env: { ...process.env, NODE_OPTIONS: "" }, detached: true },
  );
  for (let i = 0; i < 50; i++) {
    if (await redisAnswers(url)) {
      log.warn({ port, dir }, "no Redis answered at REDIS_URL: started a child redis-server");
      return {
        url,
        child,
        stop: () =>
          new Promise<void>((done) => {
            // Gone already, by its own exit or a signal (exitCode stays null after a signal).
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once("exit", () => done());
            child.stdin?.end();
          }),
      };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  // The watchdog stops its redis-server when the pipe closes.
  child.stdin?.end();
  throw new RedisUnavailableError(
    `started redis-server on port ${port} but it did not answer; see its output above`,
  );
}

/** A connection for BullMQ workers and blocking commands: never give up on a request. */
export function workerConnection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null } satisfies RedisOptions);
}

/** A connection for request paths: fail fast when Redis is down instead of queueing commands. */
export function producerConnection(url: string): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    connectTimeout: 3000,
  } satisfies RedisOptions);
}
