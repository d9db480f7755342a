/**
 * Processor for queue `maintenance`: re-queues events that were accepted but never evaluated, as
 * happens when Redis loses its queues (a restart without persistence). Runs from a BullMQ job
 * scheduler, so one sweep per interval across every worker process; only when `evaluate` is idle,
 * so a backlog is never mistaken for loss. Evaluation is idempotent, so a re-queued event that
 * was in fact on its way is harmless.
 */
import type { Job } from "bullmq";
import type { Logger } from "../engine/log.ts";
import type { Sql } from "../engine/store/database.ts";
import { unevaluatedEvents } from "../engine/store/postgres.ts";
import { type EvaluateJob, jobId, type Queues } from "./queues.ts";

export function sweeperProcessor(deps: {
  sql: Sql;
  queues: Queues;
  log: Logger;
  afterMs: number;
  batchSize: number;
}) {
  return async (_job: Job) => {
    const counts = await deps.queues.evaluate.getJobCounts("waiting", "active", "delayed", "prioritized");
    if (Object.values(counts).some((n) => n > 0)) return { swept: 0, reason: "evaluate queue busy" };
    const lost = await unevaluatedEvents(deps.sql, new Date(Date.now() - deps.afterMs), 10_000);
    if (lost.length === 0) return { swept: 0 };
    const stamp = String(Date.now());
    const jobs = [];
    for (let i = 0; i < lost.length; i += deps.batchSize) {
      const batch = lost.slice(i, i + deps.batchSize);
      jobs.push({
        name: "batch",
        data: {
          events: batch.map((b) => b.payload),
          receivedAt: batch[0]!.receivedAt.getTime(),
        } satisfies EvaluateJob,
        opts: { jobId: jobId("sweep", batch[0]!.payload.id, stamp) },
      });
    }
    await deps.queues.evaluate.addBulk(jobs);
    deps.log.warn({ events: lost.length }, "re-queued events that were accepted but never evaluated");
    return { swept: lost.length };
  };
}
