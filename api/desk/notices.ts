/**
 * What an advocate hears about outside the page (browser notifications, opted into on the desk):
 * a case assigned to them, a customer's answer that needs them, a customer calling. Chosen from the
 * same timeline changes the live stream carries (live.ts), per viewer.
 */
import type { Sql } from "../../engine/store/database.ts";
import type { CaseChange } from "./live.ts";

/** One notification: its title and body as the browser shows them, and the case it opens. */
export interface Notice {
  caseId: string;
  /** One per case and kind: a second alert on the same case replaces the first, not piles on. */
  tag: string;
  title: string;
  body: string;
}

const KINDS = ["case.assigned", "advocate.alerted", "call.received"];

export interface NoticeRow {
  caseId: string;
  kind: string;
  detail: Record<string, unknown>;
  title: string;
  advocateId: string | null;
  customerName: string | null;
}

/** The notices `advocateId` should get for these timeline entries, oldest first. Pure. */
export function noticesOf(advocateId: string, rows: readonly NoticeRow[]): Notice[] {
  const out: Notice[] = [];
  for (const r of rows) {
    const who = r.customerName ?? "The customer";
    const reason = typeof r.detail.reason === "string" ? r.detail.reason : "";
    const tag = `${r.caseId}:${r.kind}`;
    if (r.kind === "case.assigned" && r.detail.advocateId === advocateId)
      out.push({
        caseId: r.caseId,
        tag,
        title: `New case for you: ${r.title}`,
        body: `${who}. ${reason}`.trim(),
      });
    else if (r.kind === "advocate.alerted" && r.advocateId === advocateId)
      out.push({ caseId: r.caseId, tag, title: `${who} needs you`, body: `${r.title}: ${reason}` });
    // A call is for its advocate when put through to them, for the whole team when not.
    else if (r.kind === "call.received" && (r.advocateId === advocateId || r.detail.pushedTo === "team"))
      out.push({ caseId: r.caseId, tag, title: `${who} is calling`, body: `${r.title}: ${reason}` });
  }
  return out;
}

/** The notices for `advocateId` among `changes` (already limited to what the viewer may see). */
export async function noticesFor(
  sql: Sql,
  advocateId: string,
  changes: readonly CaseChange[],
): Promise<Notice[]> {
  const ids = changes.filter((ch) => KINDS.includes(ch.kind)).map((ch) => ch.id);
  if (ids.length === 0) return [];
  const rows = await sql`
    select t.case_id, t.kind, t.detail, c.title, c.advocate_id, cu.name as customer_name
    from case_timeline t join cases c on c.id = t.case_id left join customers cu on cu.id = c.customer_id
    where t.id = any(${ids}::bigint[]) order by t.id`;
  return noticesOf(
    advocateId,
    rows.map((r) => ({
      caseId: r.case_id as string,
      kind: r.kind as string,
      detail: (r.detail ?? {}) as Record<string, unknown>,
      title: r.title as string,
      advocateId: (r.advocate_id as string | null) ?? null,
      customerName: (r.customer_name as string | null) ?? null,
    })),
  );
}
