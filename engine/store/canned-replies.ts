/** The canned replies supervisors keep (engine/outreach/canned-replies.ts): read, saved, removed. */
import type { CannedReplyInput } from "../outreach/canned-replies.ts";
import type { Q } from "./database.ts";

export interface CannedReply extends CannedReplyInput {
  id: string;
  updatedBy: string;
  updatedAt: string;
}

const row = (r: Record<string, unknown>): CannedReply => ({
  id: r.id as string,
  title: r.title as string,
  language: r.language as string,
  text: r.text as string,
  updatedBy: r.updated_by as string,
  updatedAt: (r.updated_at as Date).toISOString(),
});

/** Every canned reply, or those of one language, by language then title. */
export async function listCannedReplies(sql: Q, language?: string): Promise<CannedReply[]> {
  const rows = language
    ? await sql`select * from canned_replies where language = ${language} order by title, id`
    : await sql`select * from canned_replies order by language, title, id`;
  return rows.map(row);
}

export async function getCannedReply(sql: Q, id: string): Promise<CannedReply | undefined> {
  const [r] = await sql`select * from canned_replies where id = ${id}`;
  return r ? row(r) : undefined;
}

/** Saves it under `id`, new or changed; says which. */
export async function putCannedReply(
  sql: Q,
  id: string,
  reply: CannedReplyInput,
  by: string,
): Promise<{ reply: CannedReply; created: boolean }> {
  const [r] = await sql`
    insert into canned_replies (id, title, language, text, updated_by)
    values (${id}, ${reply.title}, ${reply.language}, ${reply.text}, ${by})
    on conflict (id) do update set title = excluded.title, language = excluded.language,
      text = excluded.text, updated_by = excluded.updated_by, updated_at = now()
    returning *, (xmax = 0) as created`;
  return { reply: row(r!), created: r!.created as boolean };
}

/** Removes it; false when there was none. */
export async function deleteCannedReply(sql: Q, id: string): Promise<boolean> {
  const rows = await sql`delete from canned_replies where id = ${id} returning id`;
  return rows.length > 0;
}
