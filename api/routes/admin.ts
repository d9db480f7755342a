/** Tokens: what admins hand out. */
import { Hono } from "hono";
import { z } from "zod";
import { NotFoundError } from "../../engine/errors.ts";
import { text } from "../../engine/events.ts";
import { teamName } from "../../engine/people.ts";
import { audit } from "../../engine/store/audit.ts";
import type { Sql } from "../../engine/store/database.ts";
import { checkTokenRequest, createToken, revokeToken } from "../../engine/store/tokens.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import type { SessionsEnded } from "../desk/streams.ts";
import { jsonBody } from "../errors.ts";

const tokenBody = z
  .strictObject({
    role: z.enum(["ingest", "risk", "advocate", "supervisor", "admin"]),
    advocateId: z.string().max(128).optional(),
    team: teamName.optional(),
    /** Who the token's actions are by, on timelines and audits: none, or words. */
    label: text(200).default(""),
  })
  .refine((t) => t.role !== "advocate" || t.advocateId, {
    message: "an advocate token names its advocate",
    path: ["advocateId"],
  });

/** `endSessions`: the token's desk sessions end, and their open pages stop at once, in every process. */
export function tokenRoutes(sql: Sql, endSessions: (ended: SessionsEnded) => Promise<void>) {
  const app = new Hono<AuthEnv>();
  app.post("/", requireRole(), async (c) => {
    const body = await jsonBody(c, tokenBody);
    await checkTokenRequest(sql, body);
    const made = await createToken(sql, body);
    await audit(sql, c.get("principal").tokenId, "token.create", `token:${made.id}`, { role: body.role });
    return c.json({ ...made, role: body.role }, 201);
  });
  app.delete("/:id", requireRole(), async (c) => {
    const id = c.req.param("id");
    if (!(await revokeToken(sql, id, new Date()))) throw new NotFoundError(`no live token ${id}`);
    await audit(sql, c.get("principal").tokenId, "token.revoke", `token:${id}`, {});
    await endSessions({ token: id });
    return c.body(null, 204);
  });
  return app;
}
