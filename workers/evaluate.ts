/** What a partition's owner does with the batches it read: evaluate them, hand the hits to `cases`. */
import { evaluateBatches } from "../engine/evaluate.ts";
import type { MemoryState } from "../engine/features/memory.ts";
import type { RecordWriter } from "../engine/store/decisions.ts";
import type { EvaluationReads } from "../engine/store/evaluation-reads.ts";
import type { Fence } from "../engine/store/partitions.ts";
import type { BatchEntry } from "./partitions.ts";
import type { WorkerDeps } from "./pool.ts";
import type { CasesJob } from "./queues.ts";
import { jobId } from "./queues.ts";

export function evaluatePartition(
  deps: WorkerDeps,
  memory: MemoryState,
  shared: { writer?: RecordWriter; reads?: EvaluationReads } = {},
) {
  return async (entries: BatchEntry[], fence: Fence): Promise<void> => {
    const result = await evaluateBatches({ ...deps, memory, ...shared }, fence, entries);
    if (result.customersToCase.length > 0) {
      // One job per customer and group of batches (its first batch names it): a retry of the
      // group queues the same jobs, and the case worker takes a customer's decisions once.
      const key = entries[0]?.batch ?? "x";
      await deps.queues.cases.addBulk(
        result.customersToCase.map((customerId) => ({
          name: "case",
          data: { customerId } satisfies CasesJob,
          opts: { jobId: jobId("case", customerId, key) },
        })),
      );
    }
    deps.metrics.stateCustomers.set(memory.size);
  };
}
