/** Processor for queue `cases`: a customer's new decisions onto their open case (opening and routing one if needed). */
import type { Job } from "bullmq";
import { rerouteCase } from "../engine/cases/assign.ts";
import { type CaseUpdate, openOrJoinCase } from "../engine/cases/intake.ts";
import { caseFollowUps, caseJobState } from "../engine/store/cases.ts";
import { recordOwed } from "../engine/store/work.ts";
import type { WorkerDeps } from "./pool.ts";
import { type CasesJob, enqueueOwed, jobId, type Owed, owed } from "./queues.ts";

export function casesProcessor(deps: WorkerDeps) {
  const check = (caseId: string, severity: string, why: "opened" | "escalated", now: number) =>
    owed(
      deps.queues.outreach,
      "check",
      { type: "check", caseId, why },
      { jobId: jobId("check", caseId, severity) },
      now,
    );
  const reroute = (customerId: string, caseId: string, until: Date, now: number) =>
    owed(
      deps.queues.cases,
      "reroute",
      { customerId, reroute: caseId } satisfies CasesJob,
      { jobId: jobId("reroute", caseId, String(until.getTime())), delay: until.getTime() - now },
      now,
    );

  return async (job: Job<CasesJob>) => {
    if (job.data.reroute) {
      const r = await rerouteCase(deps.sql, job.data.reroute, new Date());
      return { rerouted: job.data.reroute, advocateId: r?.advocateId ?? null };
    }
    const { customerId } = job.data;
    const now = new Date();
    // Read first, without a transaction: most jobs find the customer's decisions on a case already.
    const found = await caseJobState(deps.sql, customerId);
    // What the update makes owed (the check text, the end of a wait) is recorded in its
    // transaction, so a case is never committed without it, and queued once it commits.
    let due: Owed[] = [];
    const owing = (u: CaseUpdate): Owed[] => {
      due = [
        ...(u.created || u.escalated
          ? [check(u.caseId, u.severity, u.escalated ? "escalated" : "opened", now.getTime())]
          : []),
        ...(u.waitUntil ? [reroute(customerId, u.caseId, u.waitUntil, now.getTime())] : []),
      ];
      return due;
    };
    const update = found.unlinked ? await openOrJoinCase(deps.sql, customerId, now, owing) : undefined;
    deps.fault?.("cases.after-commit");
    if (update) {
      if (update.created) {
        deps.metrics.casesOpened.inc();
        deps.log.info(
          { caseId: update.caseId, customerId, advocateId: update.advocateId, severity: update.severity },
          "case opened",
        );
      } else {
        deps.metrics.casesJoined.inc(update.linked);
      }
    } else {
      // Nothing left to link: perhaps a retry after a crash between the commit and the queueing.
      // What the open case still needs is read from the database, recorded (a no-op when the
      // commit did) and queued again. Job ids make repeats harmless; the message key makes a
      // second text impossible.
      // (Read again only when another job took the decisions between the first read and the lock.)
      const follow = found.unlinked ? await caseFollowUps(deps.sql, customerId) : found.followUps;
      due = [
        ...(follow?.needsCheck ? [check(follow.caseId, follow.severity, "opened", now.getTime())] : []),
        ...(follow?.waitUntil ? [reroute(customerId, follow.caseId, follow.waitUntil, now.getTime())] : []),
      ];
      await recordOwed(deps.sql, due);
    }
    for (const o of due) await enqueueOwed(deps.queues, o);
    if (!update) return { linked: 0 };
    await deps.onCaseUpdate?.(update);
    return update;
  };
}
