/** The worker pool: one BullMQ Worker per queue, sharing adapters; closes gracefully, draining active jobs. */
import { hostname } from "node:os";
import { type Processor, Worker } from "bullmq";
import type { Redis } from "ioredis";
import type { CaseUpdate } from "../engine/cases/intake.ts";
import { isServiceUnavailable, RetryableError } from "../engine/errors.ts";
import type { FaultPoint, FxCache, RulesetCache } from "../engine/evaluate.ts";
import { eventLocation } from "../engine/events.ts";
import { MemoryState } from "../engine/features/memory.ts";
import type { Logger } from "../engine/log.ts";
import type { Metrics } from "../engine/metrics.ts";
import type { CallDeps } from "../engine/outreach/calls.ts";
import type { ContactDeps } from "../engine/outreach/contact.ts";
import { finishBacktest } from "../engine/store/backtests.ts";
import type { Sql } from "../engine/store/database.ts";
import { RecordWriter } from "../engine/store/decisions.ts";
import { EvaluationReads } from "../engine/store/evaluation-reads.ts";
import { latestLocatedEvent } from "../engine/store/events.ts";
import { markOwedDone, markOwedFailed } from "../engine/store/work.ts";
import { backtestProcessor } from "./backtests.ts";
import { casesProcessor } from "./cases.ts";
import { evaluatePartition } from "./evaluate.ts";
import { outreachProcessor } from "./outreach.ts";
import { type Evaluators, startEvaluators } from "./partitions.ts";
import { bullPrefix, isOwedJob, jobId as jobIdOf, owe, QUEUES, type Queues } from "./queues.ts";
import { type Reconciler, startReconciler } from "./reconciler.ts";
import { repliesProcessor } from "./replies.ts";
import { type Retention, startRetention } from "./retention.ts";

export interface WorkerDeps {
  sql: Sql;
  /** A fail-fast connection for the reconciler's lock and epoch keys. */
  redis: Redis;
  /** Prefix of this deployment's own Redis keys: REDIS_PREFIX and the database's id. */
  keyPrefix: string;
  rulesets: RulesetCache;
  fx?: FxCache;
  metrics: Metrics;
  log: Logger;
  queues: Queues;
  fault?: FaultPoint;
  /** The clock of the contact policy and the conversation; tests fix it. */
  now?: () => Date;
  /** Called after a case changed, e.g. to contact the customer. */
  onCaseUpdate?: (u: CaseUpdate) => Promise<void>;
  /** Texting: transport, policy, bank identity. */
  contact: Omit<ContactDeps, "sql" | "latestLocation" | "log" | "metrics" | "schedule" | "now">;
}

/** This process as the jobs it runs name it: host and pid. */
const WORKER_NAME = `${hostname()}:${process.pid}`;

/** How long a worker waits before trying again while Postgres or Redis is out of reach, ms. */
export const OUTAGE_PAUSE_MS = 1000;
/** The longest pause a Retry-After may impose on a queue, ms. */
const MAX_THROTTLE_MS = 5 * 60_000;
/** Deferrals (outages, throttling) after which a job fails like any other: about 15 minutes of outage. */
const MAX_DEFERRALS = 900;

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
  /** How often the reconciler looks for work Redis forgot, ms. */
  reconcileEveryMs: number;
  /** Evaluation partitions (the database's count: see `partitionCount`). */
  partitions: number;
  /** How long a partition's lease lasts unrenewed: a process that dies gives its partitions up after it. ms. */
  partitionLeaseMs: number;
  /** Customers whose state a process holds in memory at most. */
  stateCustomers: number;
  /** EVENT_RETENTION_DAYS: events older are dropped a week at a time (default: kept for ever). */
  retentionDays?: number;
}

export interface Pool {
  workers: Worker[];
  /** The partitions this process evaluates, and their state. */
  evaluators: Evaluators;
  memory: MemoryState;
  /** True while every worker is running and connected. */
  healthy(): boolean;
  reconciler: Reconciler;
  retention?: Retention;
  close(): Promise<void>;
}

export function startPool(deps: WorkerDeps, opts: PoolOptions): Pool {
  const now = deps.now ?? (() => new Date());
  const contact: ContactDeps = {
    ...deps.contact,
    sql: deps.sql,
    // The customer's clock: their latest located event, from Postgres (any process may text).
    async latestLocation(customerId) {
      const e = await latestLocatedEvent(deps.sql, customerId);
      const at = e && eventLocation(e);
      return at && { lat: at.lat, lon: at.lon, at: Date.parse(e.occurredAt) };
    },
    log: deps.log,
    metrics: deps.metrics,
    now,
    ...(deps.fault ? { fault: deps.fault } : {}),
    async schedule(job, delayMs, jobId) {
      await owe(deps.sql, deps.queues.outreach, job.type, job, { jobId: jobIdOf(jobId), delay: delayMs });
    },
  };
  const conversation: CallDeps = {
    ...(deps.contact.voice
      ? { voice: { transport: deps.contact.voice.transport, bank: deps.contact.bank } }
      : {}),
    replyTimeoutMinutes: deps.contact.policy.replyTimeoutMinutes,
    ...(deps.contact.feedback?.enabled ? { feedbackAfterResolution: true } : {}),
    sql: deps.sql,
    log: deps.log,
    metrics: deps.metrics,
    now,
    async outreach(job, jobId, delayMs = 0) {
      await owe(deps.sql, deps.queues.outreach, job.type, job, { jobId: jobIdOf(jobId), delay: delayMs });
    },
    async publishAction(action, jobId) {
      await owe(deps.sql, deps.queues.actions, action.type, action, { jobId: jobIdOf(jobId) });
    },
  };
  // Postgres or Redis out of reach (a restart, a failover, a network blip): the job is not wrong,
  // so it goes back to wait without spending an attempt, and the worker that met the outage
  // waits OUTAGE_PAUSE_MS before taking another (on `outreach`, which has a global limiter, every
  // worker waits). Vonage throttling (a Retry-After) pauses the queue for as long as Vonage asked,
  // at most MAX_THROTTLE_MS, and a shorter pause never cuts a longer one short. A job deferred
  // more than MAX_DEFERRALS times fails like any other, so a job misread as "unavailable" cannot
  // circle for ever.
  const make = (
    name: string,
    processor: Processor,
    concurrency: number,
    limiter?: { max: number; duration: number },
  ) => {
    let outageSince: number | undefined;
    let limitedUntil = 0;
    const guarded: Processor = async (job, token) => {
      try {
        const result = await processor(job, token);
        if (job.id && isOwedJob(name, job.name)) await markOwedDone(deps.sql, job.id, new Date());
        if (outageSince !== undefined) {
          deps.log.info(
            { queue: name, pausedMs: Date.now() - outageSince },
            "dependency back: queue resumed",
          );
          outageSince = undefined;
        }
        return result;
      } catch (err) {
        const pause =
          err instanceof RetryableError && err.retryAfterMs
            ? { ms: Math.min(err.retryAfterMs, MAX_THROTTLE_MS), reason: "throttled" }
            : isServiceUnavailable(err)
              ? { ms: OUTAGE_PAUSE_MS, reason: "unavailable" }
              : undefined;
        if (!pause || job.attemptsStarted - job.attemptsMade > MAX_DEFERRALS) throw err;
        if (pause.reason === "unavailable" && outageSince === undefined) {
          outageSince = Date.now();
          deps.log.warn(
            { queue: name, err: err instanceof Error ? err.message : String(err) },
            "Postgres or Redis unavailable: jobs wait, their attempts untouched, until it answers",
          );
        } else if (pause.reason === "throttled") {
          deps.log.warn({ queue: name, retryAfterMs: pause.ms }, "Vonage throttled us: pausing the queue");
        }
        deps.metrics.jobsDeferred.inc({ queue: name, reason: pause.reason });
        if (Date.now() + pause.ms > limitedUntil) {
          limitedUntil = Date.now() + pause.ms;
          try {
            await worker.rateLimit(pause.ms);
          } catch {
            throw err; // Redis itself is gone: BullMQ retries the job as stalled once it is back.
          }
        }
        throw Worker.RateLimitError();
      }
    };
    const worker: Worker = new Worker(name, guarded, {
      // Each job records which process ran it (BullMQ's processedBy, shown on /admin/queues).
      name: WORKER_NAME,
      connection: opts.connection,
      prefix: bullPrefix(opts.prefix),
      concurrency,
      lockDuration: opts.lockMs,
      stalledInterval: opts.lockMs,
      // A job whose worker died this many times is failed for a person to look at, not retried forever.
      maxStalledCount: 3,
      ...(limiter ? { limiter } : {}),
    });
    worker.on("failed", (job, err) => {
      if (job?.id && isOwedJob(name, job.name) && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        // Out of attempts: BullMQ keeps the failed job for a person; the reconciler leaves it be.
        markOwedFailed(deps.sql, job.id, new Date()).catch((e) =>
          deps.log.error({ jobId: job.id, err: String(e) }, "could not record a job out of attempts"),
        );
        // A backtest whose worker kept dying must say so, or it reads "running" for ever.
        if (name === QUEUES.backtests) {
          finishBacktest(
            deps.sql,
            job.id,
            { error: `gave up after ${job.attemptsMade} attempts: ${err.message}` },
            new Date(),
          ).catch((e) =>
            deps.log.error({ backtest: job.id, err: String(e) }, "could not record a failed backtest"),
          );
        }
      }
      deps.log.warn(
        { queue: name, jobId: job?.id, attempt: job?.attemptsMade, err: err.message },
        "job failed; BullMQ will retry if attempts remain",
      );
    });
    worker.on("error", (err) => deps.log.error({ queue: name, err: err.message }, "worker error"));
    return worker;
  };
  const memory = new MemoryState({ maxCustomers: opts.stateCustomers });
  const evaluators = startEvaluators({
    sql: deps.sql,
    redis: deps.redis,
    connect: () => opts.connection.duplicate(),
    keyPrefix: deps.keyPrefix,
    partitions: opts.partitions,
    leaseMs: opts.partitionLeaseMs,
    memory,
    log: deps.log,
    // The partitions' rounds share their reads and their writes: those that come together go
    // to Postgres together.
    evaluate: evaluatePartition(deps, memory, {
      writer: new RecordWriter(deps.sql, (n) => deps.metrics.recordsPerWrite.observe(n)),
      reads: new EvaluationReads(deps.sql, (read, n) => deps.metrics.roundsPerRead.observe({ read }, n)),
    }),
    onHeld: (n) => deps.metrics.partitionsHeld.set(n),
  });
  const workers = [
    make(QUEUES.cases, casesProcessor(deps), Math.max(2, Math.ceil(opts.concurrency / 2))),
    make(QUEUES.outreach, outreachProcessor(contact), 4, { max: opts.ratePerSecond, duration: 1000 }),
    make(QUEUES.replies, repliesProcessor(conversation), 4),
    // One replay at a time per process: it is CPU the live queues need more.
    make(QUEUES.backtests, backtestProcessor(deps), 1),
  ];
  const reconciler = startReconciler({
    sql: deps.sql,
    redis: deps.redis,
    queues: deps.queues,
    log: deps.log,
    metrics: deps.metrics,
    keyPrefix: deps.keyPrefix,
    everyMs: opts.reconcileEveryMs,
    sweepAfterMs: opts.sweepAfterMs,
    partitions: opts.partitions,
  });
  const retention =
    opts.retentionDays === undefined
      ? undefined
      : startRetention({ sql: deps.sql, log: deps.log, retentionDays: opts.retentionDays });
  // Earlier versions swept from a BullMQ job scheduler, which Redis forgets along with the rest.
  deps.queues.maintenance.removeJobScheduler("sweep-unevaluated").catch(() => {});
  deps.metrics.workersRunning.set(workers.length);
  return {
    workers,
    evaluators,
    memory,
    healthy: () => evaluators.running() && workers.every((w) => w.isRunning()),
    reconciler,
    ...(retention ? { retention } : {}),
    async close() {
      await reconciler.stop();
      await retention?.stop();
      await Promise.all([evaluators.close(), ...workers.map((w) => w.close())]);
      deps.metrics.workersRunning.set(0);
    },
  };
}
