/**
 * Bearer tokens and the principals they stand for: a role, and for an advocate their live team.
 * Only a token's SHA-256 is stored; the plaintext is shown once.
 */
import { createHash, randomBytes } from "node:crypto";
import { ValidationError } from "../errors.ts";
import { unknownTeam } from "../people.ts";
import type { Q } from "./database.ts";
import { advocateTeams, getAdvocate } from "./people.ts";

export type Role = "ingest" | "risk" | "advocate" | "supervisor" | "admin";

export interface Principal {
  tokenId: string;
  /** What people call the token (a person, a team, a system); versions and audits show it. */
  label: string;
  role: Role;
  advocateId: string | null;
  team: string | null;
  /** The advocate's name, for the desk's header; read with a desk session only. */
  advocateName?: string | null;
}

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

/** Creates a bearer token; the plaintext is returned once and never stored. */
export async function createToken(
  sql: Q,
  t: {
    role: Role;
    advocateId?: string | null;
    team?: string | null;
    label?: string;
    token?: string;
    id?: string;
  },
): Promise<{ id: string; token: string }> {
  const token = t.token ?? `tp_${randomBytes(24).toString("base64url")}`;
  const id = t.id ?? `tok-${randomBytes(6).toString("hex")}`;
  // An advocate's token takes its team from the advocate, live: stored, it would outlive a move.
  const team = t.advocateId ? null : (t.team ?? null);
  await sql`
    insert into api_tokens (id, token_hash, role, advocate_id, team, label)
    values (${id}, ${hashToken(token)}, ${t.role}, ${t.advocateId ?? null}, ${team}, ${t.label ?? ""})
    on conflict (id) do update set token_hash = excluded.token_hash, role = excluded.role, revoked_at = null`;
  // A token made again under the same id (ADMIN_TOKEN changed, the local CLI token at each start)
  // ends the desk sessions opened with its earlier secret.
  await sql`update desk_sessions set revoked_at = now() where token_id = ${id} and revoked_at is null`;
  return { id, token };
}

/**
 * Revokes a token and the desk sessions opened with it (the sessions die with the token anyway;
 * marking them says when). False when no live token has that id.
 */
export async function revokeToken(sql: Q, id: string, now: Date): Promise<boolean> {
  const rows =
    await sql`update api_tokens set revoked_at = ${now} where id = ${id} and revoked_at is null returning id`;
  await sql`update desk_sessions set revoked_at = ${now} where token_id = ${id} and revoked_at is null`;
  return rows.length > 0;
}

export async function principalFor(sql: Q, token: string): Promise<Principal | undefined> {
  const [row] = await sql`
    select t.id, t.label, t.role, t.advocate_id, case when t.advocate_id is null then t.team else a.team end as team
    from api_tokens t left join advocates a on a.id = t.advocate_id
    where t.token_hash = ${hashToken(token)} and t.revoked_at is null`;
  return row
    ? { tokenId: row.id, label: row.label, role: row.role, advocateId: row.advocate_id, team: row.team }
    : undefined;
}

/**
 * Refuses a token request that would read more than it should: an unknown advocate, an
 * advocate's token for another team than theirs, a team no advocate is in. The API and the CLI
 * both ask here.
 */
export async function checkTokenRequest(
  sql: Q,
  t: { role: Role; advocateId?: string | undefined; team?: string | undefined },
): Promise<void> {
  const advocate = t.advocateId ? await getAdvocate(sql, t.advocateId) : undefined;
  if (t.advocateId && !advocate) {
    throw new ValidationError("unknown advocate", [
      { path: "advocateId", message: `no advocate ${t.advocateId}` },
    ]);
  }
  if (t.role === "advocate" && !advocate) {
    throw new ValidationError("an advocate token names its advocate", [
      { path: "advocateId", message: "required for role advocate" },
    ]);
  }
  // An advocate's token reads their own team's cases: another team would be a way round that.
  if (advocate && t.team && t.team !== advocate.team) {
    throw new ValidationError("an advocate token carries its advocate's team", [
      { path: "team", message: `advocate ${advocate.id} is in team ${advocate.team}, not ${t.team}` },
    ]);
  }
  const unknown = t.team && !advocate ? unknownTeam(t.team, await advocateTeams(sql)) : undefined;
  if (unknown) throw new ValidationError("unknown team", [{ path: "team", message: unknown }]);
}

/**
 * Makes sure an admin can get in: ADMIN_TOKEN when set (replacing an earlier one), otherwise a
 * token generated once, on the first start, and returned so the caller can print it.
 */
export async function ensureAdminToken(sql: Q, configured: string | undefined): Promise<string | undefined> {
  if (configured) {
    await createToken(sql, { id: "admin-env", role: "admin", token: configured, label: "ADMIN_TOKEN" });
    return undefined;
  }
  const [any] = await sql`select 1 from api_tokens where role = 'admin' and revoked_at is null`;
  if (any) return undefined;
  const { token } = await createToken(sql, {
    id: "admin-generated",
    role: "admin",
    label: "generated at first start",
  });
  return token;
}
