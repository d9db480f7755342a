/**
 * The feedback question: after a case resolves, at most one short text asking the customer to
 * score how it went (1 poor to 5 great), through the contact policy, at most once per customer
 * in FEEDBACK_PERIOD_DAYS, and their answer recorded against the case.
 */
import type { Sql } from "../store/database.ts";
import { askedElsewhereSince, claimFeedback, type FeedbackRow, openFeedback } from "../store/feedback.ts";
import { getMessageByKey } from "../store/messages.ts";
import { addTimeline } from "../store/timeline.ts";
import {
  type ContactDeps,
  caseContext,
  decide,
  deliver,
  type OutreachJob,
  render,
  templateVars,
} from "./contact.ts";

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** The question waits this long after resolution, so it never lands before the case's own last text (the thanks). ms. */
export const FEEDBACK_DELAY_MS = 10 * MINUTE;
/** A question takes answers (a score, then words) for this long after it was asked. ms. */
export const FEEDBACK_OPEN_MS = 3 * DAY;
/** The message kind of the question, outside the proactive kinds the caps count. */
export const FEEDBACK_KIND = "feedback_question";

type FeedbackJob = Extract<OutreachJob, { type: "feedback" }>;

/**
 * The job asking a resolved case's customer, under the one id per case: queueing it again (a
 * retried resolution, a resent YES) changes nothing. Advocate and team are as at resolution.
 */
export function feedbackJob(r: {
  caseId: string;
  advocateId: string | null;
  team: string;
  resolvedAt: Date;
}): { job: FeedbackJob; jobId: string; delayMs: number } {
  return {
    job: {
      type: "feedback",
      caseId: r.caseId,
      advocateId: r.advocateId,
      team: r.team,
      resolvedAt: r.resolvedAt.toISOString(),
    },
    jobId: `feedback-${r.caseId}`,
    delayMs: FEEDBACK_DELAY_MS,
  };
}

/**
 * Asks the question once. Order: already asked (a retry) → the period (a hint read) → the contact
 * policy (opt-out, caps, quiet hours: defer to the morning) → the claim of the `feedback` row
 * under the customer's lock (the guard) → the text, whose key makes it once-only.
 */
export async function askFeedback(
  deps: ContactDeps,
  job: FeedbackJob,
  jobId: string,
  finalAttempt: boolean,
): Promise<string> {
  const { sql } = deps;
  if (!deps.feedback?.enabled) return "feedback is off";
  const key = `${job.caseId}:feedback`;
  const [existing, ctx] = await Promise.all([getMessageByKey(sql, key), caseContext(sql, job.caseId)]);
  // `sending` goes on to deliver(), which knows not to resend it.
  if (existing && !["pending", "retrying", "sending"].includes(existing.status)) {
    // A retry after the text went: its timeline entry may be what the first attempt did not reach.
    if (existing.status !== "failed") await asked(deps, job, existing.id);
    return "already asked";
  }
  if (!ctx) return "no case or no customer profile";
  if (ctx.status !== "resolved") return "case not resolved";

  const now = deps.now();
  const since = new Date(now.getTime() - deps.feedback.periodDays * DAY);
  const skip = async (reason: string) => {
    await addTimeline(sql, ctx.id, "feedback.skipped", `feedback:skipped:${ctx.id}`, { reason });
    return reason;
  };
  const askedBefore = (other: FeedbackRow) =>
    `not asked: the customer was asked on case ${other.caseId} on ${other.askedAt.toISOString().slice(0, 10)}, within FEEDBACK_PERIOD_DAYS (${deps.feedback?.periodDays})`;
  const before = await askedElsewhereSince(sql, ctx.customer.id, ctx.id, since);
  if (before) return skip(askedBefore(before));

  // A courtesy, never urgent: it waits out quiet hours as a low-severity text does.
  const decision = await decide(deps, ctx, `policy:${key}:${jobId}`, now, key, "low");
  if (decision.action === "suppress") return skip(`not asked: ${decision.reason}`);
  if (decision.action === "defer") {
    const at = decision.notBefore ?? new Date(now.getTime() + 60 * MINUTE);
    await deps.schedule(
      job,
      Math.max(0, at.getTime() - now.getTime()),
      `feedback-${ctx.id}-at-${at.getTime()}`,
    );
    return decision.reason;
  }

  const claim = await claimFeedback(sql, {
    caseId: ctx.id,
    customerId: ctx.customer.id,
    advocateId: job.advocateId,
    team: job.team,
    askedAt: now,
    since,
  });
  if ("other" in claim) return skip(askedBefore(claim.other));

  const text = await render(deps, ctx.id, FEEDBACK_KIND, ctx.customer.language, templateVars(ctx, deps.bank));
  if (text === undefined) return "could not write the text";
  const sent = await deliver(deps, {
    caseId: ctx.id,
    customer: ctx.customer,
    kind: FEEDBACK_KIND,
    body: text,
    key,
    finalAttempt,
    callOnFailure: false,
  });
  if (sent.status === "failed") return "the question could not be sent";
  await asked(deps, claim.claimed, sent.id);
  return "asked";
}

async function asked(
  deps: ContactDeps,
  q: { caseId: string; advocateId: string | null; team: string },
  messageId: string,
): Promise<void> {
  await addTimeline(deps.sql, q.caseId, "feedback.asked", `feedback:asked:${q.caseId}`, {
    channel: "sms",
    messageId,
    advocateId: q.advocateId,
    team: q.team,
    reason: "asked the customer how we handled this (1 poor to 5 great)",
  });
}

/** The customer's question still taking answers at `now`, if any. */
export function openQuestion(sql: Sql, customerId: string, now: Date): Promise<FeedbackRow | undefined> {
  return openFeedback(sql, customerId, new Date(now.getTime() - FEEDBACK_OPEN_MS));
}

/**
 * After a resolution, or a repeat of one (a retried request, a resent YES): owes the question's
 * job when the bank asks for it and the case is resolved. Called on repeats too, so a crash
 * between the resolution and this call is mended by the retry; the job id keeps it to one.
 */
export async function oweFeedback(
  enabled: boolean | undefined,
  owe: (job: OutreachJob, jobId: string, delayMs: number) => Promise<void>,
  caseId: string,
  r: { status: "open" | "resolved"; advocateId: string | null; team: string; resolvedAt: Date | null },
): Promise<void> {
  if (!enabled || r.status !== "resolved" || !r.resolvedAt) return;
  const { job, jobId, delayMs } = feedbackJob({
    caseId,
    advocateId: r.advocateId,
    team: r.team,
    resolvedAt: r.resolvedAt,
  });
  await owe(job, jobId, delayMs);
}
