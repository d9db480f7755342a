/** Processor for queue `cases`: a customer's new decisions onto their open case (opening and routing one if needed). */
import type { Job } from "bullmq";
import { openOrJoinCase, rerouteCase } from "../engine/store/postgres.ts";
import type { WorkerDeps } from "./pool.ts";
import { type CasesJob, jobId } from "./queues.ts";

export function casesProcessor(deps: WorkerDeps) {
  return async (job: Job<CasesJob>) => {
    if (job.data.reroute) {
      const r = await rerouteCase(deps.sql, job.data.reroute, new Date());
      return { rerouted: job.data.reroute, advocateId: r?.advocateId ?? null };
    }
    const update = await openOrJoinCase(deps.sql, job.data.customerId, new Date());
    deps.fault?.("cases.after-commit");
    if (!update) return { linked: 0 };
    if (update.created) {
      deps.metrics.casesOpened.inc();
      deps.log.info(
        {
          caseId: update.caseId,
          customerId: job.data.customerId,
          advocateId: update.advocateId,
          severity: update.severity,
        },
        "case opened",
      );
    } else {
      deps.metrics.casesJoined.inc(update.linked);
    }
    // Contact the customer when a case opens, and again (sooner) when new evidence makes it more severe.
    if (update.created || update.escalated) {
      const why = update.created ? "opened" : "escalated";
      await deps.queues.outreach.add(
        "check",
        { type: "check", caseId: update.caseId, why },
        { jobId: jobId("check", update.caseId, why, update.severity) },
      );
    }
    if (update.waitUntil) {
      await deps.queues.cases.add(
        "reroute",
        { customerId: job.data.customerId, reroute: update.caseId },
        {
          jobId: jobId("reroute", update.caseId),
          delay: Math.max(0, update.waitUntil.getTime() - Date.now()),
        },
      );
    }
    await deps.onCaseUpdate?.(update);
    return update;
  };
}
