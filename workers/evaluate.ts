/** Processor for queue `evaluate`: a batch of events through the rules, hits handed to `cases`. */
import type { Job } from "bullmq";
import { evaluateBatch } from "../engine/evaluate.ts";
import type { TouchpointEvent } from "../engine/events.ts";
import { batchesOf } from "../engine/store/events.ts";
import type { WorkerDeps } from "./pool.ts";
import type { CasesJob, EvaluateJob } from "./queues.ts";
import { jobId } from "./queues.ts";

/** How long a run's claim on its batch lasts should the run die: a lost job is re-driven after it. ms. */
const CLAIM_MS = 5 * 60_000;

export function evaluateProcessor(deps: WorkerDeps) {
  return async (job: Job<EvaluateJob>) => {
    const { batch, events, customers, receivedAt } = job.data;
    if (batch === undefined) return { requeued: await requeueAsBatches(deps, events ?? []) };
    // One run per batch at a time: a copy of the job (the reconciler's, an old job's) that starts
    // while it runs leaves it be. The claim is this job's, so its own retry after a crash takes it.
    const me = job.id ?? `${process.pid}:${batch}`;
    let held = false;
    const claim = async () => {
      held = await deps.state.claim(`evaluate:${batch}`, me, CLAIM_MS);
      return held;
    };
    let result: Awaited<ReturnType<typeof evaluateBatch>>;
    try {
      result = await evaluateBatch(
        { ...deps, claim },
        { batch, receivedAt, ...(events ? { events } : {}), ...(customers ? { customers } : {}) },
      );
    } finally {
      // Given up once the run ends, done or not: a copy of the job may then take the batch over
      // without waiting for this job's retry (with its back-off: 12 s slower recovery in the
      // chaos run). Only a process that died keeps it, until the job's own retry or CLAIM_MS.
      if (held) await deps.state.release(`evaluate:${batch}`, me).catch(() => {});
    }
    if (result.customersToCase.length > 0) {
      await deps.queues.cases.addBulk(
        result.customersToCase.map((customerId) => ({
          name: "case",
          data: { customerId } satisfies CasesJob,
          opts: { jobId: jobId("case", customerId, job.id ?? "x") },
        })),
      );
    }
    return {
      evaluated: result.evaluated,
      decisions: result.newDecisions,
      customers: result.customersToCase.length,
    };
  };
}

/**
 * A job from before evaluation was recorded per batch names no batch: migration 011 put its
 * events in stored batches, which may hold events of other such jobs. Each of those batches not
 * yet evaluated is queued whole, under the id the API gives a batch's job, so jobs sharing a
 * batch queue it once (BullMQ keeps one job per id) and none is evaluated twice at once.
 */
async function requeueAsBatches(deps: WorkerDeps, events: readonly TouchpointEvent[]): Promise<number> {
  const batches = (
    await batchesOf(
      deps.sql,
      events.map((e) => e.id),
    )
  ).filter((b) => !b.evaluated);
  if (batches.length > 0)
    await deps.queues.evaluate.addBulk(
      batches.map((b) => ({
        name: "batch",
        data: {
          batch: b.id,
          customers: [...new Set(b.events.map((e) => e.customerId))],
          receivedAt: b.receivedAt.getTime(),
        } satisfies EvaluateJob,
        opts: { jobId: jobId("ingest", b.id) },
      })),
    );
  return batches.length;
}
