/** Processor for queue `evaluate`: a batch of events through the rules, hits handed to `cases`. */
import type { Job } from "bullmq";
import { evaluateBatch } from "../engine/evaluate.ts";
import type { WorkerDeps } from "./pool.ts";
import type { CasesJob, EvaluateJob } from "./queues.ts";
import { jobId } from "./queues.ts";

export function evaluateProcessor(deps: WorkerDeps) {
  return async (job: Job<EvaluateJob>) => {
    const { batch, events, receivedAt } = job.data;
    if (batch === undefined) {
      // Queued before evaluation was recorded per batch: the upgrade made its events a stored
      // batch of their own, which the reconciler queues again; evaluating them here too would not
      // be recorded, and they would be evaluated twice.
      deps.log.warn(
        { jobId: job.id, events: events.length },
        "job names no batch; its events are left to the reconciler",
      );
      return { evaluated: 0, decisions: 0, customers: 0 };
    }
    const result = await evaluateBatch(deps, { batch, events, receivedAt });
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
