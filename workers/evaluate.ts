/** Processor for queue `evaluate`: a batch of events through the rules, hits handed to `cases`. */
import type { Job } from "bullmq";
import { evaluateBatch, evaluateUnnamedBatch } from "../engine/evaluate.ts";
import type { WorkerDeps } from "./pool.ts";
import type { CasesJob, EvaluateJob } from "./queues.ts";
import { jobId } from "./queues.ts";

export function evaluateProcessor(deps: WorkerDeps) {
  return async (job: Job<EvaluateJob>) => {
    const { batch, events, receivedAt } = job.data;
    const result =
      batch === undefined
        ? await evaluateUnnamedBatch(deps, events)
        : await evaluateBatch(deps, { batch, events, receivedAt });
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
