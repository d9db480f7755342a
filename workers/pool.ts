/** The worker pool: one BullMQ Worker per queue, sharing adapters; closes gracefully, draining active jobs. */
import { type Processor, Worker } from "bullmq";
import type { Redis } from "ioredis";
import { RetryableError } from "../engine/errors.ts";
import type { FaultPoint, RulesetCache } from "../engine/evaluate.ts";
import type { CustomerState } from "../engine/features/state.ts";
import type { Logger } from "../engine/log.ts";
import type { Metrics } from "../engine/metrics.ts";
import type { ContactDeps } from "../engine/outreach/contact.ts";
import type { ConversationDeps } from "../engine/outreach/conversation.ts";
import type { Sql } from "../engine/store/database.ts";
import type { CaseUpdate } from "../engine/store/postgres.ts";
import { casesProcessor } from "./cases.ts";
import { evaluateProcessor } from "./evaluate.ts";
import { outreachProcessor } from "./outreach.ts";
import { bullPrefix, jobId as jobIdOf, QUEUES, type Queues } from "./queues.ts";
import { repliesProcessor } from "./replies.ts";
import { sweeperProcessor } from "./sweeper.ts";

export interface WorkerDeps {
  sql: Sql;
  state: CustomerState;
  rulesets: RulesetCache;
  metrics: Metrics;
  log: Logger;
  queues: Queues;
  fault?: FaultPoint;
  /** The clock of the contact policy and the conversation; tests fix it. */
  now?: () => Date;
  /** Called after a case changed, e.g. to contact the customer. */
  onCaseUpdate?: (u: CaseUpdate) => Promise<void>;
  /** Texting: transport, policy, bank identity. */
  contact: Omit<ContactDeps, "sql" | "state" | "log" | "metrics" | "schedule" | "now">;
}

export interface PoolOptions {
  connection: Redis;
  prefix: string;
  concurrency: number;
  /** How long a job's lock lasts before a dead worker's job is retried, ms. */
  lockMs: number;
  /** Outbound requests per second to Vonage, across every worker sharing this Redis. */
  ratePerSecond: number;
  /** Unevaluated events older than this are re-queued (when `evaluate` is idle), ms. */
  sweepAfterMs: number;
  /** How often to look, ms. */
  sweepEveryMs: number;
  batchSize: number;
}

export interface Pool {
  workers: Worker[];
  /** True while every worker is running and connected. */
  healthy(): boolean;
  close(): Promise<void>;
}

export function startPool(deps: WorkerDeps, opts: PoolOptions): Pool {
  const now = deps.now ?? (() => new Date());
  const contact: ContactDeps = {
    ...deps.contact,
    sql: deps.sql,
    state: deps.state,
    log: deps.log,
    metrics: deps.metrics,
    now,
    ...(deps.fault ? { fault: deps.fault } : {}),
    async schedule(job, delayMs, jobId) {
      await deps.queues.outreach.add(job.type, job, {
        jobId: jobIdOf(jobId),
        delay: Math.max(0, Math.round(delayMs)),
      });
    },
  };
  const conversation: ConversationDeps = {
    replyTimeoutMinutes: deps.contact.policy.replyTimeoutMinutes,
    sql: deps.sql,
    log: deps.log,
    metrics: deps.metrics,
    now,
    async outreach(job, jobId, delayMs = 0) {
      await deps.queues.outreach.add(job.type, job, { jobId: jobIdOf(jobId), delay: delayMs });
    },
    async publishAction(action, jobId) {
      await deps.queues.actions.add(action.type, action, { jobId: jobIdOf(jobId), removeOnComplete: false });
    },
  };
  const make = (
    name: string,
    processor: Processor,
    concurrency: number,
    limiter?: { max: number; duration: number },
  ) => {
    const w = new Worker(name, processor, {
      connection: opts.connection,
      prefix: bullPrefix(opts.prefix),
      concurrency,
      lockDuration: opts.lockMs,
      stalledInterval: opts.lockMs,
      // A job whose worker died this many times is failed for a person to look at, not retried forever.
      maxStalledCount: 3,
      ...(limiter ? { limiter } : {}),
    });
    w.on("failed", (job, err) => {
      deps.log.warn(
        { queue: name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message },
        "job failed; BullMQ will retry if attempts remain",
      );
    });
    w.on("error", (err) => deps.log.error({ queue: name, err: err.message }, "worker error"));
    return w;
  };
  // Vonage said "too many requests" with a Retry-After: pause the whole queue (every worker) for
  // that long instead of burning this job's attempts; the job goes back to wait, not to failed.
  const sendOutreach = outreachProcessor(contact);
  const outreach: Worker = make(
    QUEUES.outreach,
    async (job) => {
      try {
        return await sendOutreach(job);
      } catch (err) {
        if (err instanceof RetryableError && err.retryAfterMs) {
          deps.log.warn({ retryAfterMs: err.retryAfterMs }, "Vonage throttled us: pausing outreach");
          await outreach.rateLimit(err.retryAfterMs);
          throw Worker.RateLimitError();
        }
        throw err;
      }
    },
    4,
    { max: opts.ratePerSecond, duration: 1000 },
  );
  const workers = [
    make(QUEUES.evaluate, evaluateProcessor(deps), opts.concurrency),
    make(QUEUES.cases, casesProcessor(deps), Math.max(2, Math.ceil(opts.concurrency / 2))),
    outreach,
    make(QUEUES.replies, repliesProcessor(conversation), 4),
    make(
      QUEUES.maintenance,
      sweeperProcessor({
        sql: deps.sql,
        queues: deps.queues,
        log: deps.log,
        afterMs: opts.sweepAfterMs,
        batchSize: opts.batchSize,
      }),
      1,
    ),
  ];
  const scheduled = deps.queues.maintenance
    .upsertJobScheduler("sweep-unevaluated", { every: opts.sweepEveryMs }, { name: "sweep", data: {} })
    .catch((err) => deps.log.error({ err: String(err) }, "could not schedule the sweeper"));
  deps.metrics.workersRunning.set(workers.length);
  return {
    workers,
    healthy: () => workers.every((w) => w.isRunning()),
    async close() {
      await scheduled;
      await Promise.all(workers.map((w) => w.close()));
      deps.metrics.workersRunning.set(0);
    },
  };
}
