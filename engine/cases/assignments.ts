/**
 * People moving work: an advocate sets their own status, claims an unassigned case, hands a case
 * to a colleague with a note; a supervisor reassigns. The same rules as automatic routing (the
 * case's team, online, under capacity) are checked under the same row locks, and every move goes
 * on the case's timeline with who did it and why.
 */
import { ConflictError, NotFoundError } from "../errors.ts";
import { audit } from "../store/audit.ts";
import { assignmentSteps, lockCaseForRouting, transferCaseTo } from "../store/cases.ts";
import type { Sql } from "../store/database.ts";
import { type Advocate, advocateName, lockAdvocateLoad, updateAdvocateStatus } from "../store/people.ts";
import { addTimeline } from "../store/timeline.ts";
import { assignWaitingCases, returnCasesToPreferred } from "./assign.ts";
import { type AdvocateStatus, type TransferKind, transferProblem } from "./routing.ts";

/** An advocate's own status; back online, they get their customers' cases back and whatever waits. */
export async function setAdvocateStatus(
  sql: Sql,
  advocateId: string,
  status: AdvocateStatus,
  actor: string,
  now: Date,
): Promise<Advocate> {
  const row = await updateAdvocateStatus(sql, advocateId, status);
  if (!row) throw new NotFoundError(`advocate ${advocateId} not found`);
  await audit(sql, actor, "advocate.status", `advocate:${advocateId}`, { status });
  if (status === "online") {
    await returnCasesToPreferred(sql, advocateId, now);
    await assignWaitingCases(sql, row.team, now);
  }
  return row;
}

const WORDS: Record<TransferKind, string> = {
  claim: "claimed the case",
  handoff: "handed the case over",
  reassign: "reassigned the case",
};

/**
 * Moves a case to `toId` by a person's decision. Throws ConflictError with the reason when the
 * routing rules forbid it (another team, offline, at capacity, not theirs to hand over…).
 */
export async function transferCase(
  sql: Sql,
  t: {
    caseId: string;
    toId: string;
    kind: TransferKind;
    by: { role: string; advocateId?: string | null; label: string };
    note?: string | undefined;
    now: Date;
  },
): Promise<void> {
  await sql.begin(async (tx) => {
    const c = await lockCaseForRouting(tx, t.caseId);
    if (!c) throw new NotFoundError(`case ${t.caseId} not found`);
    const from = c.advocateId ? ((await advocateName(tx, c.advocateId)) ?? null) : null;
    const to = await lockAdvocateLoad(tx, t.toId);
    const problem = transferProblem({
      kind: t.kind,
      case: { status: c.status, team: c.team, advocateId: c.advocateId, advocateName: from },
      to,
      toId: t.toId,
      by: t.by,
    });
    if (problem || !to) throw new ConflictError(problem ?? `no advocate ${t.toId}`);
    const n = await assignmentSteps(tx, c.id);
    await transferCaseTo(tx, c.id, c.customerId, to.id);
    // An advocate is named as colleagues know them; anyone else by their token's label.
    const me = t.by.advocateId ? await advocateName(tx, t.by.advocateId) : undefined;
    const byName = me ?? t.by.label;
    await addTimeline(
      tx,
      c.id,
      "case.assigned",
      `assigned:${c.id}:${n}`,
      {
        advocateId: to.id,
        advocateName: to.name,
        trigger: t.kind,
        fromAdvocateId: c.advocateId,
        fromAdvocateName: from,
        note: t.note ?? null,
        reason:
          t.kind === "claim"
            ? `${to.name} took the case`
            : `${byName} ${WORDS[t.kind]} to ${to.name}${from && t.kind === "reassign" ? ` (from ${from})` : ""}`,
      },
      { actor: t.by.advocateId ?? t.by.label, at: t.now },
    );
  });
}
