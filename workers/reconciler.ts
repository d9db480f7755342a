/**
 * The reconciler: re-drives, from what Postgres says is owed, the work Redis has forgotten (a
 * restart without persistence, a failover to an empty replica, a flush). It runs on a timer in
 * every worker process, one run at a time across them under a Redis lock, so it needs nothing
 * from Redis to survive a loss of Redis (a BullMQ job scheduler is itself kept in Redis).
 *
 * Each run:
 * - notices when Redis has forgotten everything (its epoch key is gone) and then re-queues all
 *   pending work at once instead of waiting for it to age (a process starting with nothing
 *   pending sets the key, `markEpochIfIdle`, so a new deployment is not taken for a loss);
 * - re-queues events accepted but not evaluated (older than `sweepAfterMs`, when `evaluate` is
 *   idle, so a backlog is never mistaken for loss), and customers with decisions not on a case;
 * - re-queues owed jobs (texts, reminders, call tasks, deferred texts, waits, card blocks,
 *   webhooks) past due whose job Redis no longer has.
 * Everything it queues is idempotent by key, so a re-queued job that was in fact alive is harmless.
 */
import { randomBytes } from "node:crypto";
import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Logger } from "../engine/log.ts";
import type { Metrics } from "../engine/metrics.ts";
import { partitionOf } from "../engine/partitioning.ts";
import type { Sql } from "../engine/store/database.ts";
import { splitBatch, unevaluatedBatches } from "../engine/store/events.ts";
import {
  anythingPending,
  dueOwed,
  markOwedDone,
  markOwedFailed,
  oldestPending,
  pruneOwed,
} from "../engine/store/work.ts";
import { type BatchEntry, entriesWaitingByPartition, queueBatches, spanField } from "./partitions.ts";
import { everyMs } from "./periodic.ts";
import { type CasesJob, jobId, QUEUES, type Queues, queueJobOptions } from "./queues.ts";

export interface ReconcilerOptions {
  sql: Sql;
  redis: Redis;
  queues: Queues;
  log: Logger;
  metrics: Metrics;
  /** Redis key prefix of this deployment (REDIS_PREFIX and the database's id). */
  keyPrefix: string;
  /** How often to run, ms. */
  everyMs: number;
  /** Unevaluated events older than this are re-queued (when no partition has entries waiting), ms. */
  sweepAfterMs: number;
  /** Evaluation partitions. */
  partitions: number;
}

export interface ReconcileReport {
  /** Redis had forgotten everything: all pending work was re-queued without waiting. */
  redisForgot: boolean;
  events: number;
  customers: number;
  jobs: number;
}

/** Owed jobs get this long past their due time before their absence from Redis counts, ms. */
const OWED_GRACE_MS = 15_000;
/** Decisions not on a case get this long before they count as lost, ms. */
const UNLINKED_GRACE_MS = 30_000;
const MAX_PER_RUN = 10_000;
/** Owed jobs looked at per run (one Redis read each): the oldest first, the rest next run. */
const MAX_OWED_PER_RUN = 1000;
/** Done owed work is kept this long (for an audit of what was re-driven), then pruned. ms. */
const OWED_KEPT_MS = 30 * 24 * 3_600_000;

/** Set while this Redis holds every job of the deployment that Postgres says is pending. */
const epochKey = (keyPrefix: string) => `${keyPrefix}:epoch`;

/**
 * At start, when Postgres holds nothing pending: marks this Redis as knowing the deployment. A
 * Redis that had forgotten it would have nothing to re-queue, and a new deployment (whose Redis
 * never knew it) is otherwise taken for a loss on its first run, once work is pending.
 */
export async function markEpochIfIdle(sql: Sql, redis: Redis, keyPrefix: string, now: Date): Promise<void> {
  if (await anythingPending(sql)) return;
  await redis.set(epochKey(keyPrefix), now.toISOString(), "NX");
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export function startReconciler(o: ReconcilerOptions) {
  const lockKey = `${o.keyPrefix}:reconcile:lock`;
  const me = randomBytes(8).toString("hex");
  async function runOnce(now = new Date()): Promise<ReconcileReport | undefined> {
    const got = await o.redis.set(lockKey, me, "PX", Math.max(60_000, o.everyMs * 4), "NX");
    if (got !== "OK") return undefined;
    try {
      // No epoch key: this Redis never saw this deployment, or has forgotten everything it held.
      const redisForgot = (await o.redis.exists(epochKey(o.keyPrefix))) === 0;
      const report: ReconcileReport = {
        redisForgot,
        events: await requeueEvents(now, redisForgot),
        customers: await requeueUnlinked(now, redisForgot),
        jobs: await requeueOwed(now, redisForgot),
      };
      if (redisForgot) await o.redis.set(epochKey(o.keyPrefix), now.toISOString());
      await pruneOwed(o.sql, new Date(now.getTime() - OWED_KEPT_MS), 1000);
      const ages = await oldestPending(o.sql, now);
      for (const [kind, seconds] of Object.entries(ages)) o.metrics.oldestPending.set({ kind }, seconds);
      if (report.events + report.customers + report.jobs > 0) {
        const what = `${report.events} events, the decisions of ${report.customers} customers and ${report.jobs} jobs`;
        o.log.warn(
          report,
          redisForgot
            ? `Redis had lost this deployment's queues (restarted without its data, or emptied): re-queued ${what} from Postgres; nothing is lost`
            : `re-queued ${what} that Redis no longer had, from Postgres`,
        );
      }
      return report;
    } finally {
      await o.redis.eval(RELEASE, 1, lockKey, me).catch(() => {});
    }
  }

  async function idle(queue: Queue): Promise<boolean> {
    const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
    return Object.values(counts).every((n) => n === 0);
  }

  async function requeueEvents(now: Date, all: boolean): Promise<number> {
    // A backlog is not a loss: a partition with entries waiting is left to them (judged per
    // partition, so one busy partition does not keep another's lost batches from being found).
    const waiting = all
      ? new Array<number>(o.partitions).fill(0)
      : await entriesWaitingByPartition(o.redis, o.keyPrefix, o.partitions);
    const idle = (p: number) => waiting[p] === 0;
    const olderThan = all ? now : new Date(now.getTime() - o.sweepAfterMs);
    const lost = (await unevaluatedBatches(o.sql, olderThan, MAX_PER_RUN)).filter((b) =>
      b.partition === undefined ? waiting.every((n) => n === 0) : idle(b.partition),
    );
    // Each batch as the API queued it, on its partition's stream (its row records its
    // evaluation, so a batch queued twice is evaluated once); a batch of an earlier version,
    // which may hold several partitions' events, is split first.
    const entries: BatchEntry[] = [];
    for (const b of lost) {
      const receivedAt = b.receivedAt.getTime();
      if (b.partition !== undefined) {
        entries.push({
          batch: b.id,
          partition: b.partition,
          receivedAt,
          customers: [...new Set(b.events.map((e) => e.customerId))],
          ...spanField(b.events),
        });
        continue;
      }
      for (const part of await splitBatch(o.sql, b, (c) => partitionOf(c, o.partitions)))
        entries.push({ batch: part.id, partition: part.partition, receivedAt, customers: part.customers });
    }
    await queueBatches(o.redis, o.keyPrefix, entries);
    return lost.reduce((n, b) => n + b.events.length, 0);
  }

  async function requeueUnlinked(now: Date, all: boolean): Promise<number> {
    if (!all && !(await idle(o.queues.cases))) return 0;
    const before = new Date(now.getTime() - (all ? 0 : UNLINKED_GRACE_MS));
    const rows = await o.sql`
      select distinct customer_id from decisions
      where case_id is null and mode = 'live' and decided_at < ${before} limit ${MAX_PER_RUN}`;
    const stamp = String(now.getTime());
    if (rows.length > 0) {
      await o.queues.cases.addBulk(
        rows.map((r) => ({
          name: "case",
          data: { customerId: r.customer_id as string } satisfies CasesJob,
          opts: { jobId: jobId("case", r.customer_id as string, "reconcile", stamp) },
        })),
      );
    }
    return rows.length;
  }

  async function requeueOwed(now: Date, all: boolean): Promise<number> {
    const due = await dueOwed(o.sql, new Date(now.getTime() - (all ? 0 : OWED_GRACE_MS)), MAX_OWED_PER_RUN);
    const byName: Record<string, Queue> = {
      [QUEUES.cases]: o.queues.cases,
      [QUEUES.outreach]: o.queues.outreach,
      [QUEUES.replies]: o.queues.replies,
      [QUEUES.actions]: o.queues.actions,
    };
    let requeued = 0;
    const settle = async (w: (typeof due)[number]) => {
      const queue = byName[w.queue];
      if (!queue) return;
      const job = await queue.getJob(w.key);
      if (!job) {
        await queue.add(w.name, w.data, { ...queueJobOptions(w.queue), jobId: w.key });
        requeued++;
        return;
      }
      // Finished where this process could not see it: by the card system (`actions`), or failed
      // for good by BullMQ without spending its attempts (stalled too often, unrecoverable).
      const state = await job.getState();
      if (state === "completed") await markOwedDone(o.sql, w.key, now);
      else if (state === "failed") await markOwedFailed(o.sql, w.key, now);
    };
    for (let i = 0; i < due.length; i += 50) await Promise.all(due.slice(i, i + 50).map(settle));
    return requeued;
  }

  // First run soon after start (a restart after Redis lost everything recovers at once).
  const timer = everyMs({
    run: () => runOnce(),
    everyMs: o.everyMs,
    firstAfterMs: Math.min(1000, o.everyMs),
    log: o.log,
    failed: "reconciler run failed; the next run tries again",
  });
  return { runOnce, stop: timer.stop };
}

export type Reconciler = ReturnType<typeof startReconciler>;
