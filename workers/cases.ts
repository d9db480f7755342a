/** Processor for queue `cases`: a customer's new decisions onto their open case (opening and routing one if needed). */
import type { Job } from "bullmq";
import { caseFollowUps, openOrJoinCase, rerouteCase } from "../engine/store/postgres.ts";
import type { WorkerDeps } from "./pool.ts";
import { type CasesJob, jobId, owe } from "./queues.ts";

export function casesProcessor(deps: WorkerDeps) {
  return async (job: Job<CasesJob>) => {
    if (job.data.reroute) {
      const r = await rerouteCase(deps.sql, job.data.reroute, new Date());
      return { rerouted: job.data.reroute, advocateId: r?.advocateId ?? null };
    }
    const update = await openOrJoinCase(deps.sql, job.data.customerId, new Date());
    deps.fault?.("cases.after-commit");
    if (update?.created) {
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
    } else if (update) {
      deps.metrics.casesJoined.inc(update.linked);
    }
    // Queue what the open case needs from the database's point of view, so a retry after a crash
    // between commit and here still does it. Job ids make repeats harmless; the message key makes
    // a second text impossible.
    const follow = await caseFollowUps(deps.sql, job.data.customerId);
    if (follow && (follow.needsCheck || update?.escalated)) {
      await owe(
        deps.sql,
        deps.queues.outreach,
        "check",
        { type: "check", caseId: follow.caseId, why: update?.escalated ? "escalated" : "opened" },
        { jobId: jobId("check", follow.caseId, follow.severity) },
      );
    }
    if (follow?.waitUntil) {
      await owe(
        deps.sql,
        deps.queues.cases,
        "reroute",
        { customerId: job.data.customerId, reroute: follow.caseId },
        {
          jobId: jobId("reroute", follow.caseId, String(follow.waitUntil.getTime())),
          delay: follow.waitUntil.getTime() - Date.now(),
        },
      );
    }
    if (!update) return { linked: 0 };
    await deps.onCaseUpdate?.(update);
    return update;
  };
}
