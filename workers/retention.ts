/**
 * Event retention on a timer in every worker process: makes the weeks of `events` ahead, drops the
 * weeks older than EVENT_RETENTION_DAYS and the batch rows of their time (engine/store/retention.ts).
 * Every step is safe to run from several processes at once (Postgres advisory locks), so it needs
 * no lock of its own; a run that fails is tried again at the next.
 */

import type { Logger } from "../engine/log.ts";
import type { Sql } from "../engine/store/database.ts";
import { maintainEvents, type RetentionReport } from "../engine/store/retention.ts";
import { everyMs } from "./periodic.ts";

export interface RetentionOptions {
  sql: Sql;
  log: Logger;
  /** EVENT_RETENTION_DAYS. */
  retentionDays: number;
  /** How often to run, ms (hourly: a week's partition is due once a week, the rest is a no-op). */
  everyMs?: number;
}

const HOUR_MS = 3_600_000;

/** Logs what a run did: what it dropped and made, and why a due week was kept. */
export function logRetention(log: Logger, retentionDays: number, r: RetentionReport): void {
  if (r.created.length + r.dropped.length + r.batchesDeleted > 0)
    log.info(
      { created: r.created, dropped: r.dropped, batchesDeleted: r.batchesDeleted, retentionDays },
      `event retention: dropped ${r.dropped.length} week(s) of events older than ${retentionDays} days, made ${r.created.length} ahead`,
    );
  if (r.keptUnevaluated.length > 0)
    log.warn(
      { kept: r.keptUnevaluated, retentionDays },
      "event retention: kept week(s) past the retention that hold events not yet evaluated; dropped once they are",
    );
  if (r.busy.length > 0)
    log.warn(
      { busy: r.busy },
      "event retention: events was busy past the lock timeout; the next run drops them",
    );
}

export function startRetention(o: RetentionOptions) {
  /** One run now (a test passes its own clock). */
  const runOnce = async (now = new Date(), retentionDays = o.retentionDays) => {
    const report = await maintainEvents(o.sql, now, retentionDays);
    logRetention(o.log, retentionDays, report);
    return report;
  };
  // A first run soon after start: a deployment stopped for weeks needs its weeks ahead made.
  const timer = everyMs({
    run: () => runOnce(),
    everyMs: o.everyMs ?? HOUR_MS,
    firstAfterMs: 1000,
    log: o.log,
    failed: "event retention run failed; the next run tries again",
  });
  return { runOnce, stop: timer.stop };
}

export type Retention = ReturnType<typeof startRetention>;
