/**
 * What Postgres did during a window of the bench (the latency run): what its active statements
 * were waiting on, sampled a few times a second from pg_stat_activity, and what it wrote — commits,
 * WAL (records, full-page images, bytes, flushes) and the dirty pages backends had to write out
 * themselves, from the cumulative views before and after. A latency figure that misses its target
 * needs this beside it to say what bounds it.
 */
import type postgres from "postgres";

interface Counters {
  commits: number;
  walRecords: number;
  walFpi: number;
  walBytes: number;
  walWrites: number;
  walSyncs: number;
  buffersBackend: number;
  buffersCheckpoint: number;
  buffersClean: number;
  blocksRead: number;
}

async function counters(sql: postgres.Sql): Promise<Counters> {
  const [db] = await sql`
    select xact_commit::float8 as commits, blks_read::float8 as blocks_read
    from pg_stat_database where datname = current_database()`;
  const [bg] = await sql`
    select buffers_backend::float8 as backend, buffers_checkpoint::float8 as checkpoint, buffers_clean::float8 as clean
    from pg_stat_bgwriter`;
  const [wal] = await sql`
    select wal_records::float8 as records, wal_fpi::float8 as fpi, wal_bytes::float8 as bytes,
      wal_write::float8 as writes, wal_sync::float8 as syncs
    from pg_stat_wal`;
  return {
    commits: Number(db?.commits ?? 0),
    blocksRead: Number(db?.blocks_read ?? 0),
    buffersBackend: Number(bg?.backend ?? 0),
    buffersCheckpoint: Number(bg?.checkpoint ?? 0),
    buffersClean: Number(bg?.clean ?? 0),
    walRecords: Number(wal?.records ?? 0),
    walFpi: Number(wal?.fpi ?? 0),
    walBytes: Number(wal?.bytes ?? 0),
    walWrites: Number(wal?.writes ?? 0),
    walSyncs: Number(wal?.syncs ?? 0),
  };
}

/** A statement's first words, literals and whitespace folded: enough to tell the store's statements apart. */
export function statementLabel(query: string): string {
  const words = query
    .replace(/\s+/g, " ")
    .replace(/'[^']*'/g, "?")
    .replace(/\$\d+/g, "?")
    .trim();
  // The writes' CTE names say more than their first words (`with fence as (…`).
  const ctes = [...words.matchAll(/(?:with|,)\s+(\w+) as \(/gi)].map((m) => m[1]);
  if (/^with /i.test(words) && ctes.length > 0) return `with ${ctes.join(", ")}`;
  return words.slice(0, 60);
}

export interface WindowReport {
  seconds: number;
  samples: number;
  /** Active statements seen, by statement and what it waited on ("CPU" when on none), most seen first. */
  activity: Array<{ statement: string; wait: string; seen: number }>;
  perSecond: {
    commits: number;
    walFlushes: number;
    walMiB: number;
    walFullPageImages: number;
    /** Dirty pages a backend wrote out itself to make room (each may first flush the WAL up to it). */
    backendWrites: number;
    checkpointWrites: number;
    blocksRead: number;
  };
}

/** Starts sampling; `stop()` answers what was seen. `everyMs` between samples of pg_stat_activity. */
export async function watchWindow(sql: postgres.Sql, everyMs = 250) {
  const before = await counters(sql);
  const t0 = performance.now();
  const seen = new Map<string, number>();
  let samples = 0;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    sql`
      select query, coalesce(wait_event_type || ':' || wait_event, 'CPU') as wait
      from pg_stat_activity
      where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`
      .then((rows) => {
        samples++;
        for (const r of rows) {
          const key = `${statementLabel(r.query as string)}\u0000${r.wait as string}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
      })
      .catch(() => {})
      .finally(() => {
        busy = false;
      });
  }, everyMs);
  timer.unref();
  return {
    async stop(): Promise<WindowReport> {
      clearInterval(timer);
      const after = await counters(sql);
      const seconds = (performance.now() - t0) / 1000;
      const rate = (k: keyof Counters) => Math.round(((after[k] - before[k]) / seconds) * 10) / 10;
      return {
        seconds: Math.round(seconds * 10) / 10,
        samples,
        activity: [...seen]
          .map(([key, n]) => {
            const [statement, wait] = key.split("\u0000") as [string, string];
            return { statement, wait, seen: n };
          })
          .sort((a, b) => b.seen - a.seen),
        perSecond: {
          commits: rate("commits"),
          walFlushes: rate("walSyncs"),
          walMiB: Math.round(((after.walBytes - before.walBytes) / seconds / 2 ** 20) * 100) / 100,
          walFullPageImages: rate("walFpi"),
          backendWrites: rate("buffersBackend"),
          checkpointWrites: rate("buffersCheckpoint"),
          blocksRead: rate("blocksRead"),
        },
      };
    },
  };
}

/** The report in two lines of the bench's output. */
export function describeWindow(w: WindowReport, top = 6): string {
  const p = w.perSecond;
  const head = `  Postgres meanwhile, a second: ${p.commits} commits, ${p.walFlushes} WAL flushes, ${p.walMiB} MiB of WAL (${p.walFullPageImages} full-page images), ${p.backendWrites} pages written out by backends, ${p.checkpointWrites} by the checkpointer, ${p.blocksRead} blocks read`;
  const total = w.activity.reduce((a, b) => a + b.seen, 0);
  const most = w.activity
    .slice(0, top)
    .map((a) => `${a.seen} ${a.wait} in "${a.statement}"`)
    .join("; ");
  return `${head}\n  active statements in ${w.samples} samples (${total} seen): ${most || "none"}`;
}
