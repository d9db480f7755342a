/**
 * The Postgres connection: a real server when DATABASE_URL is set, otherwise an embedded PGlite
 * served over the wire protocol to the same `postgres` client, so there is one code path. Applies
 * the versioned SQL migrations in `migrations/` at start.
 */

import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { isServiceUnavailable } from "../errors.ts";
import type { Logger } from "../log.ts";
import { takeLock } from "./lock.ts";

export type Sql = postgres.Sql<Record<string, never>>;

/** A connection or a transaction: both take tagged-template queries. */
export type Q = Sql | postgres.TransactionSql<Record<string, never>>;

export interface Database {
  sql: Sql;
  /** "postgres" or "pglite", for /readyz and the logs. */
  kind: "postgres" | "pglite";
  /** The embedded database's lock: where the API's address and a CLI token are left for tools. */
  lock?: ReturnType<typeof takeLock>;
  close(): Promise<void>;
}

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), "migrations");

/**
 * Applies every migration not yet recorded, each in its own transaction, under an advisory lock.
 * `through` stops after the named file (a test of a migration builds the schema it starts from).
 */
export async function migrate(sql: Sql, log?: Logger, through?: string): Promise<string[]> {
  const files = readdirSync(migrationsDir)
    .filter((f) => f.endsWith(".sql") && (through === undefined || f <= through))
    .sort();
  const applied: string[] = [];
  await sql`create table if not exists schema_migrations (version text primary key, applied_at timestamptz not null default now())`;
  for (const file of files) {
    await sql.begin(async (tx) => {
      // Several processes may start at once against one database: one applies, the others wait.
      await tx`select pg_advisory_xact_lock(74657)`;
      const [done] = await tx`select 1 from schema_migrations where version = ${file}`;
      if (done) return;
      // A migration file is trusted, versioned SQL with several statements: the one place for unsafe().
      await tx.unsafe(readFileSync(join(migrationsDir, file), "utf8"));
      await tx`insert into schema_migrations (version) values (${file})`;
      applied.push(file);
    });
  }
  if (applied.length > 0) log?.info({ applied }, "database migrated");
  return applied;
}

/** A TCP port on 127.0.0.1 nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const probe = createServer();
    probe.once("error", fail);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as AddressInfo;
      probe.close(() => ok(port));
    });
  });
}

const clientOptions = {
  onnotice: () => {},
  // The driver's default is 30 s: during an outage requests and jobs should learn fast and retry.
  connect_timeout: 5,
  transform: { undefined: null },
  // No JIT: its compiling is paid on every call of a statement whose estimated cost crosses
  // jit_above_cost, as a customer load of a few hundred customers does: 127 ms with it, 19 ms
  // without, on the bench's database (EXPLAIN ANALYZE). touchpoint's statements are short.
  //
  // Every statement planned for its own parameters, never from a generic plan: Postgres keeps a
  // prepared statement's generic plan until an ANALYZE of its tables, so a statement first run
  // while a table is small (a new deployment, the bench's warm-up) keeps a sequential scan after
  // the table has grown. The customers' profiles read went from 0.4 ms to 100 ms that way, with
  // 120,000 customers on a cluster without autovacuum (2026-12-06, session 6): a full bench's
  // Postgres cost doubled, and its latency minute spent three quarters of its samples there.
  // Planning each call costs microseconds; a partitioned table's weeks are pruned in planning too.
  connection: { application_name: "touchpoint", jit: "off", plan_cache_mode: "force_custom_plan" },
} as const;

/** Opens (and migrates) the database the configuration names. */
export async function openDatabase(opts: {
  url?: string;
  dataDir: string;
  log?: Logger;
  max?: number;
  /** How long to wait for a Postgres that does not answer yet, ms (default: not at all). */
  waitMs?: number;
}): Promise<Database> {
  if (opts.url) {
    const sql = postgres(opts.url, { ...clientOptions, max: opts.max ?? 10 }) as unknown as Sql;
    // A database that is restarting (or not up yet, as when a whole stack starts at once) is
    // waited for; anything else (bad credentials, a missing database) fails at once.
    const deadline = Date.now() + (opts.waitMs ?? 0);
    for (let attempt = 1; ; attempt++) {
      try {
        await migrate(sql, opts.log);
        break;
      } catch (err) {
        if (!isServiceUnavailable(err) || Date.now() >= deadline) {
          await sql.end({ timeout: 1 }).catch(() => {});
          throw err;
        }
        opts.log?.warn(
          { attempt, err: err instanceof Error ? err.message : String(err) },
          "waiting for Postgres to answer",
        );
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
      }
    }
    return { sql, kind: "postgres", close: () => sql.end({ timeout: 5 }) };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  const dir = resolve(opts.dataDir, "pg");
  mkdirSync(dir, { recursive: true });
  const lock = takeLock(join(resolve(opts.dataDir), "touchpoint.lock"), `the embedded database in ${dir}`);
  const db = await PGlite.create(dir).catch((err) => {
    lock.release();
    throw err;
  });
  const port = await freePort();
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port });
  // PGlite serves one connection at a time: a pool of more gets ECONNRESET or hangs.
  const sql = postgres({
    ...clientOptions,
    host: "127.0.0.1",
    port,
    database: "postgres",
    username: "postgres",
    max: 1,
  }) as unknown as Sql;
  try {
    await server.start();
    await migrate(sql, opts.log);
  } catch (err) {
    // A start that fails gives the data directory back.
    await sql.end({ timeout: 1 }).catch(() => {});
    await server.stop().catch(() => {});
    await db.close().catch(() => {});
    lock.release();
    throw err;
  }
  opts.log?.warn(
    { dir },
    "DATABASE_URL is unset: using embedded PGlite (one process only; set DATABASE_URL to scale out)",
  );
  return {
    sql,
    kind: "pglite",
    lock,
    close: async () => {
      await sql.end({ timeout: 5 });
      await server.stop();
      await db.close();
      lock.release();
    },
  };
}
