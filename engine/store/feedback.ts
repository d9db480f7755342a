/**
 * The feedback question in Postgres (`feedback`, migration 013): one row per case asked, claimed
 * before the text goes, with the customer's 1-5 score and any words they added.
 */
import type { Q, Sql } from "./database.ts";
import { addTimeline } from "./timeline.ts";

export interface FeedbackRow {
  caseId: string;
  customerId: string;
  advocateId: string | null;
  team: string;
  askedAt: Date;
  score: number | null;
  answeredAt: Date | null;
  comment: string | null;
}

const row = (r: Record<string, unknown>): FeedbackRow => ({
  caseId: r.case_id as string,
  customerId: r.customer_id as string,
  advocateId: (r.advocate_id as string | null) ?? null,
  team: r.team as string,
  askedAt: r.asked_at as Date,
  score: (r.score as number | null) ?? null,
  answeredAt: (r.answered_at as Date | null) ?? null,
  comment: (r.comment as string | null) ?? null,
});

/** The customer's latest question on another case asked after `since`: a hint, claimFeedback is the guard. */
export async function askedElsewhereSince(
  sql: Q,
  customerId: string,
  caseId: string,
  since: Date,
): Promise<FeedbackRow | undefined> {
  const [r] = await sql`
    select * from feedback where customer_id = ${customerId} and case_id <> ${caseId} and asked_at > ${since}
    order by asked_at desc limit 1`;
  return r ? row(r) : undefined;
}

/**
 * Claims the question for a case: its row if already there (a retry), else a new one unless the
 * customer was asked on another case after `since`, which is returned instead. The customer's
 * row is locked first, so two of their cases resolving at once cannot both be asked.
 */
export async function claimFeedback(
  sql: Sql,
  f: {
    caseId: string;
    customerId: string;
    advocateId: string | null;
    team: string;
    askedAt: Date;
    since: Date;
  },
): Promise<{ claimed: FeedbackRow } | { other: FeedbackRow }> {
  return sql.begin(async (tx) => {
    await tx`select id from customers where id = ${f.customerId} for update`;
    const [mine] = await tx`select * from feedback where case_id = ${f.caseId}`;
    if (mine) return { claimed: row(mine) };
    const other = await askedElsewhereSince(tx, f.customerId, f.caseId, f.since);
    if (other) return { other };
    const [r] = await tx`
      insert into feedback (case_id, customer_id, advocate_id, team, channel, asked_at)
      values (${f.caseId}, ${f.customerId}, ${f.advocateId}, ${f.team}, 'sms', ${f.askedAt})
      returning *`;
    return { claimed: row(r!) };
  });
}

/** The customer's question still open to answers: asked after `since`, the latest first. */
export async function openFeedback(
  sql: Q,
  customerId: string,
  since: Date,
): Promise<FeedbackRow | undefined> {
  const [r] = await sql`
    select * from feedback where customer_id = ${customerId} and asked_at > ${since}
    order by asked_at desc limit 1`;
  return r ? row(r) : undefined;
}

/**
 * Records one reply to the question, once per `key` (the inbound text's): a score if it is one and
 * the case has none yet (the first stands), otherwise its words, added to `comment`. The timeline
 * entry and the row change in one transaction, so a resent webhook adds nothing twice.
 */
export async function recordFeedbackReply(
  sql: Sql,
  r: { caseId: string; key: string; text: string; score?: number; at: Date },
): Promise<"score" | "comment" | "seen"> {
  return sql.begin(async (tx) => {
    const [scored] =
      r.score === undefined
        ? []
        : await tx`
          update feedback set score = ${r.score}, answered_at = ${r.at}
          where case_id = ${r.caseId} and score is null returning case_id`;
    const as = scored ? "score" : "comment";
    const created = await addTimeline(
      tx,
      r.caseId,
      "feedback.received",
      r.key,
      as === "score"
        ? { score: r.score, text: r.text }
        : { text: r.text, reason: `the customer wrote: "${r.text.slice(0, 200)}"` },
      { at: r.at },
    );
    // Seen before: the score (if any) was set by that first time, so this update found nothing.
    if (!created) return "seen";
    if (as === "comment")
      await tx`
        update feedback set comment = case when comment is null then ${r.text} else comment || E'\n' || ${r.text} end
        where case_id = ${r.caseId}`;
    return as;
  });
}
