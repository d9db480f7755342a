/**
 * The queue ceiling: the same batches as ingest makes (INGEST_BATCH_SIZE events a job, one
 * `addBulk` per request, requests in parallel) through BullMQ on the same Redis, to a worker of
 * the same concurrency whose processor does nothing. What touchpoint can never exceed on this
 * Redis, whatever the rules cost: the end-to-end figure is read against it.
 */
import { randomBytes } from "node:crypto";
import { Queue, Worker } from "bullmq";
import { Redis } from "ioredis";
import type { TouchpointEvent } from "../engine/events.ts";
import { jobDefaults } from "../workers/queues.ts";

export interface QueueCeiling {
  events: number;
  jobs: number;
  eventsPerSec: number;
}

export async function queueCeiling(opts: {
  redisUrl: string;
  /** Requests as ingest receives them: each becomes one addBulk of batches. */
  requests: TouchpointEvent[][];
  batchSize: number;
  concurrency: number;
  parallel: number;
}): Promise<QueueCeiling> {
  const prefix = `{bq${randomBytes(3).toString("hex")}}`;
  const connection = new Redis(opts.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue("evaluate", { connection, prefix, defaultJobOptions: jobDefaults });
  let done = 0;
  let jobs = 0;
  const total = opts.requests.reduce((n, r) => n + r.length, 0);
  let finish: () => void = () => {};
  const finished = new Promise<void>((ok) => {
    finish = ok;
  });
  const worker = new Worker(
    "evaluate",
    async (job) => {
      done += (job.data as { events: unknown[] }).events.length;
      if (done >= total) finish();
    },
    { connection, prefix, concurrency: opts.concurrency },
  );
  try {
    const t0 = performance.now();
    for (let i = 0; i < opts.requests.length; i += opts.parallel) {
      await Promise.all(
        opts.requests.slice(i, i + opts.parallel).map((events) => {
          const receivedAt = Date.now();
          const bulk = [];
          for (let k = 0; k < events.length; k += opts.batchSize) {
            const batch = events.slice(k, k + opts.batchSize);
            // As the API makes them (api/routes/events.ts): a batch id, its events, when received.
            const id = `${receivedAt.toString(36)}-${batch[0]!.id}-${k}`;
            bulk.push({
              name: "batch",
              data: { batch: id, events: batch, receivedAt },
              opts: { jobId: `ingest-${id}` },
            });
          }
          jobs += bulk.length;
          return queue.addBulk(bulk);
        }),
      );
    }
    await finished;
    const seconds = (performance.now() - t0) / 1000;
    return { events: total, jobs, eventsPerSec: Math.round(total / seconds) };
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await connection.quit();
  }
}
