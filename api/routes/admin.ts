/** Tokens: what admins hand out. */
import { Hono } from "hono";
import { z } from "zod";
import { text } from "../../engine/events.ts";
import { teamName } from "../../engine/people.ts";
import type { Sql } from "../../engine/store/database.ts";
import { audit, checkTokenRequest, createToken } from "../../engine/store/postgres.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
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

export function tokenRoutes(sql: Sql) {
  const app = new Hono<AuthEnv>();
  app.post("/", requireRole(), async (c) => {
    const body = await jsonBody(c, tokenBody);
    await checkTokenRequest(sql, body);
    const made = await createToken(sql, body);
    await audit(sql, c.get("principal").tokenId, "token.create", `token:${made.id}`, { role: body.role });
    return c.json({ ...made, role: body.role }, 201);
  });
  return app;
}
