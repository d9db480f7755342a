/**
 * Starts a whole touchpoint for a test: a fresh Postgres database (or embedded PGlite), the real
 * Redis with a fresh key prefix, workers and the API answering in-process through `app.request`.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import postgres from "postgres";
import type { ExperienceSource } from "../../api/desk/experience.tsx";
import { loadConfig } from "../../engine/config.ts";
import type { FaultPoint } from "../../engine/evaluate.ts";
import { createLogger, type Logger } from "../../engine/log.ts";
import { type Api, apiClient, eventually } from "../../fixtures/stories.ts";
import { start, type Touchpoint } from "../../main.ts";
import { entriesWaiting } from "../../workers/partitions.ts";

export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

export interface TestTouchpoint {
  tp: Touchpoint;
  /** API client with the admin token. */
  api: Api;
  /** API client with another token. */
  as(token: string): Api;
  /** Makes a token for a role through the API. */
  token(role: string, extra?: Record<string, unknown>): Promise<string>;
  prefix: string;
  databaseUrl?: string;
  /** Resolves once every accepted event is evaluated and the queues are empty. */
  drained(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tp_test_${randomBytes(5).toString("hex")}`;
  const admin = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin`create database ${admin(name)}`;
  await admin.end();
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = postgres(TEST_DATABASE_URL, { max: 1, onnotice: () => {} });
      await a`drop database if exists ${a(name)} with (force)`;
      await a.end();
    },
  };
}

export async function deleteKeys(prefix: string): Promise<void> {
  const r = new Redis(TEST_REDIS_URL);
  // Its own keys, its queues' (`{prefix}:…`) and its partitions' (`{prefix:<database>:p<n>}:…`).
  for (const pattern of [`${prefix}:*`, `{${prefix}}:*`, `{${prefix}:*`]) {
    let cursor = "0";
    do {
      const [next, keys] = await r.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) await r.del(...keys);
    } while (cursor !== "0");
  }
  await r.quit();
}

export async function startTestTouchpoint(
  opts: {
    pglite?: boolean;
    env?: Record<string, string>;
    /** A database made beforehand (createDatabase), e.g. to share with child processes. */
    database?: { url: string; drop(): Promise<void> };
    prefix?: string;
    /** Listen on an ephemeral port too (for a browser); `tp.port` says which. */
    listen?: boolean;
    /** A fixed clock for contact decisions. */
    now?: () => Date;
    /** Called at each fault point the workers pass (see FaultPoint): a test's crash. */
    fault?: FaultPoint;
    /** Where the logs go (default: TEST_LOG_LEVEL, on stdout). */
    log?: Logger;
    /** The desk's experience report, made up by the test. */
    experienceReport?: ExperienceSource;
  } = {},
): Promise<TestTouchpoint> {
  const prefix = opts.prefix ?? `t${randomBytes(4).toString("hex")}`;
  const dataDir = mkdtempSync(join(tmpdir(), "touchpoint-test-"));
  const db = opts.pglite ? undefined : (opts.database ?? (await createDatabase()));
  const adminToken = `test-admin-${randomBytes(12).toString("hex")}`;
  const config = loadConfig({
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    DATA_DIR: dataDir,
    ADMIN_TOKEN: adminToken,
    SEED_FIXTURES: "0",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    WORKER_CONCURRENCY: "4",
    // Suites send events at fixed dates (November 2026): kept, not refused as older than the
    // default 90 days once those are past. Weeks are made as events need them, so this costs nothing.
    EVENT_RETENTION_DAYS: "3650",
    ...(db ? { DATABASE_URL: db.url } : {}),
    ...opts.env,
  });
  const tp = await start(opts.listen ? { ...config, PORT: 0 } : config, {
    listen: opts.listen ?? false,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.fault ? { fault: opts.fault } : {}),
    ...(opts.experienceReport ? { experienceReport: opts.experienceReport } : {}),
    log: opts.log ?? createLogger(config.LOG_LEVEL),
  });
  const request = (path: string, init: RequestInit) => tp.app!.request(path, init);
  const api = apiClient(request, adminToken);
  return {
    tp,
    api,
    as: (token) => apiClient(request, token),
    async token(role, extra = {}) {
      const r = await api("POST", "/v1/tokens", { role, ...extra });
      if (r.status !== 201) throw new Error(`token: ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.token as string;
    },
    prefix,
    ...(db ? { databaseUrl: db.url } : {}),
    async drained(timeoutMs = 60_000) {
      await eventually(
        async () => {
          const [row] = await tp.db
            .sql`select count(*)::int as n from event_status where evaluated_at is null`;
          if ((row?.n as number) > 0) return undefined;
          // Acknowledged once its hits are handed to `cases`.
          if ((await entriesWaiting(tp.redis, tp.keyPrefix, tp.partitions)) > 0) return undefined;
          // Outreach keeps delayed jobs (reminders, morning texts) by design: only what is due counts.
          // Cases keep delayed reroutes (a case waiting for its customer's advocate) by design too.
          for (const q of [tp.queues.cases, tp.queues.outreach, tp.queues.replies]) {
            const counts = await q.getJobCounts("waiting", "active", "prioritized");
            if (Object.values(counts).some((n) => n > 0)) return undefined;
          }
          return true;
        },
        timeoutMs,
        "the pipeline to drain",
      );
    },
    async close() {
      await tp.close();
      await db?.drop();
      await deleteKeys(prefix);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
