/** Queue names, job shapes and options: the contract between producers (api/) and workers. */

import { type JobsOptions, Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { TouchpointEvent } from "../engine/events.ts";
import type { CallJob } from "../engine/outreach/calls.ts";
import type { CardReplaceAction } from "../engine/outreach/card-actions.ts";
import type { OutreachJob } from "../engine/outreach/contact.ts";
import type { AppAnswer, CardBlockAction, InboundText, Receipt } from "../engine/outreach/conversation.ts";
import type { Sql } from "../engine/store/database.ts";
import { type OwedJob, recordOwed } from "../engine/store/work.ts";

export const QUEUES = {
  cases: "cases",
  outreach: "outreach",
  replies: "replies",
  actions: "actions",
  maintenance: "maintenance",
  /** Replays for the risk team, away from the live queues. */
  backtests: "backtests",
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

/** A backtest to run: its request is in Postgres (`backtests`), the job carries only its id. */
export interface BacktestJob {
  id: string;
}

export interface CasesJob {
  customerId: string;
  /** Set on the delayed job that ends a case's wait for the customer's previous advocate. */
  reroute?: string;
}

/** A Vonage webhook, verified and parsed, waiting to be applied. */
export type RepliesJob =
  | { kind: "inbound"; text: InboundText }
  | { kind: "status"; receipt: Receipt }
  /** A YES / NO from the bank's app (`POST /v1/cases/:id/answers`). */
  | { kind: "answer"; answer: AppAnswer }
  /** A keypad press or a call's state, from the voice webhooks. */
  | CallJob;

/** BullMQ key prefix: a Redis Cluster hash tag, so each queue's keys share one slot. */
export const bullPrefix = (prefix: string) => `{${prefix}}`;

/** Defaults for every job: retries with exponential backoff, completed jobs kept briefly, failures kept for inspection. */
export const jobDefaults = {
  attempts: 8,
  backoff: { type: "exponential", delay: 500 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
} as const;

/** BullMQ job ids may not contain ':' nor be all digits. */
export function jobId(...parts: string[]): string {
  return parts.join("-").replace(/:/g, "_");
}

/** Queues whose jobs are owed work (recorded in Postgres, marked done by their worker). */
export const OWED_QUEUES: ReadonlySet<string> = new Set([
  QUEUES.cases,
  QUEUES.outreach,
  QUEUES.replies,
  QUEUES.actions,
  QUEUES.backtests,
]);

/**
 * Whether a job is recorded as owed work. A `cases` job named `case` is not: it is derived from
 * decisions not on a case (one per customer per batch), so marking it done would be a wasted
 * statement on the hot path.
 */
export function isOwedJob(queue: string, jobName: string): boolean {
  return OWED_QUEUES.has(queue) && !(queue === QUEUES.cases && jobName === "case");
}

/** Options a job of this queue needs whoever adds it (the producer or the reconciler). */
export function queueJobOptions(queue: string): JobsOptions {
  // The card system reads `actions`: a consumed job stays, so the reconciler can see it was taken.
  return queue === QUEUES.actions ? { removeOnComplete: false } : {};
}

/** A job someone is owed, as recorded in Postgres and queued under its record's key. */
export type Owed = OwedJob & { delay: number };

/** The record of a job someone is owed: queued `delay` ms from now (0 by default). */
export function owed<T>(
  queue: Queue<T>,
  name: string,
  data: T,
  opts: { jobId: string; delay?: number },
  now = Date.now(),
): Owed {
  const delay = Math.max(0, Math.round(opts.delay ?? 0));
  return { key: opts.jobId, queue: queue.name, name, data, dueAt: new Date(now + delay), delay };
}

/** Queues an owed job (already recorded) on its queue, under its key: queueing it twice is harmless. */
export async function enqueueOwed(queues: Queues, job: Owed): Promise<void> {
  const queue = Object.values(queues).find((q): q is Queue => q instanceof Queue && q.name === job.queue);
  if (!queue) throw new Error(`no queue named ${job.queue}`);
  await addOwed(queue, job);
}

// biome-ignore lint/suspicious/noExplicitAny: BullMQ's generic job name and data types do not narrow here.
function addOwed(queue: Queue<any>, job: Owed) {
  return queue.add(job.name, job.data, { ...queueJobOptions(queue.name), jobId: job.key, delay: job.delay });
}

/**
 * Queues a job that someone is owed (a text, a reminder, a wait's end, a card block, a webhook
 * to apply), recording it in Postgres first: if Redis forgets it, the reconciler queues it again.
 * The job id is the record's key, so recording and queueing twice are both harmless.
 */
export async function owe<T>(
  sql: Sql,
  queue: Queue<T>,
  name: string,
  data: T,
  opts: { jobId: string; delay?: number },
  onQueueError?: (err: unknown) => void,
): Promise<void> {
  const job = owed(queue, name, data, opts);
  await recordOwed(sql, job);
  try {
    await addOwed(queue, job);
  } catch (err) {
    // Recorded, so not lost: with Redis out of reach the reconciler queues it once Redis answers.
    // (A webhook still gets its 200, a worker's job still completes.)
    if (!onQueueError) throw err;
    onQueueError(err);
  }
}

/**
 * The queues, on one connection. `onError` hears their connection's errors (Redis away): a queue
 * with no listener prints each one raw to stderr, past the JSON log, many a second while Redis restarts.
 */
export function createQueues(
  connection: Redis,
  prefix: string,
  onError: (queue: string, err: Error) => void,
) {
  const make = <T>(name: QueueName) => {
    const queue = new Queue<T>(name, {
      connection,
      prefix: bullPrefix(prefix),
      defaultJobOptions: jobDefaults,
    });
    queue.on("error", (err) => onError(name, err));
    return queue;
  };
  return {
    cases: make<CasesJob>(QUEUES.cases),
    outreach: make<OutreachJob>(QUEUES.outreach),
    replies: make<RepliesJob>(QUEUES.replies),
    /** Read by the card system: touchpoint only publishes here. */
    actions: make<CardBlockAction | CardReplaceAction>(QUEUES.actions),
    maintenance: make<Record<string, never>>(QUEUES.maintenance),
    backtests: make<BacktestJob>(QUEUES.backtests),
    async close() {
      await Promise.all(
        [this.cases, this.outreach, this.replies, this.actions, this.maintenance, this.backtests].map((q) =>
          q.close(),
        ),
      );
    },
  };
}

export type Queues = ReturnType<typeof createQueues>;
