/**
 * Finding a customer's case from what a person has at hand: the number calling in, a name, a
 * case id, a card's last four digits. Each answers case ids, open cases first, then the latest.
 */
import type { Sql } from "./database.ts";

/** Cases of the customers with this E.164 number: each one's open case, else their latest. */
export async function casesForPhone(sql: Sql, phone: string, team?: string): Promise<string[]> {
  const rows = await sql`
    select distinct on (c.customer_id) c.id
    from customers cu join cases c on c.customer_id = cu.id
    where cu.phone = ${phone} ${team ? sql`and c.team = ${team}` : sql``}
    order by c.customer_id, (c.status = 'open') desc, c.opened_at desc`;
  return rows.map((r) => r.id as string);
}

/** What the desk's search box finds: by case id, phone, card last four or name, at most `limit`. */
export async function searchCases(
  sql: Sql,
  q: { caseId?: string; phone?: string; last4?: string; name?: string },
  team: string | undefined,
  limit = 50,
): Promise<string[]> {
  const scope = team ? sql`and c.team = ${team}` : sql``;
  if (q.caseId)
    return (await sql`select c.id from cases c where c.id = ${q.caseId} ${scope}`).map((r) => r.id);
  if (q.phone) return casesForPhone(sql, q.phone, team);
  if (q.last4) {
    // The cards a case is about, from its decisions' events (events of everyone else are not searched).
    const rows = await sql`
      select distinct c.id, c.opened_at from decisions d join cases c on c.id = d.case_id
      where d.event_payload->'card'->>'last4' = ${q.last4} ${scope} order by c.opened_at desc limit ${limit}`;
    return rows.map((r) => r.id as string);
  }
  if (q.name) {
    const pattern = `%${q.name.replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`;
    const rows = await sql`
      select c.id from cases c join customers cu on cu.id = c.customer_id
      where cu.name ilike ${pattern} ${scope} order by (c.status = 'open') desc, c.opened_at desc limit ${limit}`;
    return rows.map((r) => r.id as string);
  }
  return [];
}
