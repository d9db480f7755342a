/**
 * People moving work: an advocate sets their own status, claims an unassigned case, hands a case
 * to a colleague with a note; a supervisor reassigns. The same rules as automatic routing (the
 * case's team, online, under capacity) are checked under the same row locks, and every move goes
 * on the case's timeline with who did it and why. (Use cases more than store: their place is
 * engine/cases/, beside assign.ts; issue 26's next step.)
 */
import { assignWaitingCases, returnCasesToPreferred } from "../cases/assign.ts";
import { type AdvocateStatus, type TransferKind, transferProblem } from "../cases/routing.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import { audit } from "./audit.ts";
import type { Sql } from "./database.ts";
import { type Advocate, advocateLoads } from "./people.ts";
import { addTimeline } from "./timeline.ts";

/** An advocate's own status; back online, they get their customers' cases back and whatever waits. */
export async function setAdvocateStatus(
  sql: Sql,
  advocateId: string,
  status: AdvocateStatus,
  actor: string,
  now: Date,
): Promise<Advocate> {
  const [row] = await sql`
    update advocates set status = ${status}, updated_at = now() where id = ${advocateId}
    returning id, name, team, capacity, status`;
  if (!row) throw new NotFoundError(`advocate ${advocateId} not found`);
  await audit(sql, actor, "advocate.status", `advocate:${advocateId}`, { status });
  if (status === "online") {
    await returnCasesToPreferred(sql, advocateId, now);
    await assignWaitingCases(sql, row.team as string, now);
  }
  return row as unknown as Advocate;
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
    const [c] = await tx`
      select c.id, c.customer_id, c.team, c.status, c.advocate_id, a.name as advocate_name
      from cases c left join advocates a on a.id = c.advocate_id where c.id = ${t.caseId} for update of c`;
    if (!c) throw new NotFoundError(`case ${t.caseId} not found`);
    const [to] = await advocateLoads(tx, tx`a.id = ${t.toId}`);
    const problem = transferProblem({
      kind: t.kind,
      case: {
        status: c.status as string,
        team: c.team as string,
        advocateId: (c.advocate_id as string | null) ?? null,
        advocateName: (c.advocate_name as string | null) ?? null,
      },
      to,
      toId: t.toId,
      by: t.by,
    });
    if (problem || !to) throw new ConflictError(problem ?? `no advocate ${t.toId}`);
    const [{ n }] = (await tx`
      select count(*)::int as n from case_timeline where case_id = ${c.id} and kind in ('case.assigned', 'case.unassigned')`) as unknown as [
      { n: number },
    ];
    // Chosen by a person: the case stays with them, even when the customer's earlier advocate
    // comes back online (returnCasesToPreferred moves only what routing chose).
    await tx`update cases set advocate_id = ${to.id}, preferred_advocate_id = ${to.id}, wait_until = null, updated_at = now() where id = ${c.id}`;
    // Whoever has the case now is the advocate the customer will know next time.
    await tx`update customers set last_advocate_id = ${to.id} where id = ${c.customer_id}`;
    const from = (c.advocate_name as string | null) ?? null;
    // An advocate is named as colleagues know them; anyone else by their token's label.
    const [me] = t.by.advocateId ? await tx`select name from advocates where id = ${t.by.advocateId}` : [];
    const byName = (me?.name as string | undefined) ?? t.by.label;
    await addTimeline(
      tx,
      c.id,
      "case.assigned",
      `assigned:${c.id}:${n}`,
      {
        advocateId: to.id,
        advocateName: to.name,
        trigger: t.kind,
        fromAdvocateId: (c.advocate_id as string | null) ?? null,
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
