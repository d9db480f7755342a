/** The audit log: who did what to whom, and the questions asked of it. */
import type postgres from "postgres";
import type { Q } from "./database.ts";

export async function audit(
  sql: Q,
  actor: string,
  action: string,
  target: string,
  detail: object = {},
): Promise<void> {
  await sql`insert into audit_log (actor, action, target, detail) values (${actor}, ${action}, ${target}, ${sql.json(detail as postgres.JSONValue)})`;
}

/** Whether `actor` asked (audited) to see this customer's number within the last `withinMs`. */
export async function phoneRevealedTo(
  sql: Q,
  actor: string,
  customerId: string,
  withinMs: number,
): Promise<boolean> {
  const rows = await sql`
    select 1 from audit_log where actor = ${actor} and action = 'customer.phone_revealed'
      and target = ${`customer:${customerId}`} and at > ${new Date(Date.now() - withinMs)} limit 1`;
  return rows.length > 0;
}
