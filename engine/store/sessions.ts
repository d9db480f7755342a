/** Desk sessions: a cookie's id (stored hashed) standing for a token until it expires or is revoked. */
import { randomBytes } from "node:crypto";
import type { Q } from "./database.ts";
import { hashToken, type Principal } from "./tokens.ts";

/** Opens a desk session for a token; the returned id goes in the cookie and is never stored. */
export async function createDeskSession(sql: Q, tokenId: string, ttlMs: number, now: Date): Promise<string> {
  const id = randomBytes(32).toString("base64url");
  await sql`
    insert into desk_sessions (id_hash, token_id, expires_at)
    values (${hashToken(id)}, ${tokenId}, ${new Date(now.getTime() + ttlMs)})`;
  return id;
}

/** The principal of a live desk session: not expired, not revoked, and its token not revoked. */
export async function principalForSession(
  sql: Q,
  sessionId: string,
  now: Date,
): Promise<Principal | undefined> {
  const [row] = await sql`
    select t.id, t.label, t.role, t.advocate_id, a.name as advocate_name,
      case when t.advocate_id is null then t.team else a.team end as team
    from desk_sessions s join api_tokens t on t.id = s.token_id left join advocates a on a.id = t.advocate_id
    where s.id_hash = ${hashToken(sessionId)} and s.revoked_at is null and s.expires_at > ${now}
      and t.revoked_at is null`;
  return row
    ? {
        tokenId: row.id,
        label: row.label,
        role: row.role,
        advocateId: row.advocate_id,
        team: row.team,
        advocateName: row.advocate_name ?? null,
      }
    : undefined;
}

export async function revokeDeskSession(sql: Q, sessionId: string, now: Date): Promise<void> {
  await sql`update desk_sessions set revoked_at = ${now} where id_hash = ${hashToken(sessionId)} and revoked_at is null`;
}
