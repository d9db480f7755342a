/**
 * `/v1/canned-replies`: the bank's own short answers, per language. Supervisors (and admins) keep
 * them; advocates read them, to put one in the reply box. Each change is in the audit log.
 */
import { Hono } from "hono";
import { z } from "zod";
import { NotFoundError, ValidationError } from "../../engine/errors.ts";
import { cannedReplyBody, cannedReplyId, checkedCannedReply } from "../../engine/outreach/canned-replies.ts";
import { audit } from "../../engine/store/audit.ts";
import {
  deleteCannedReply,
  getCannedReply,
  listCannedReplies,
  putCannedReply,
} from "../../engine/store/canned-replies.ts";
import type { Sql } from "../../engine/store/database.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { jsonBody, toIssues } from "../errors.ts";

const languageQuery = z.strictObject({
  language: z
    .string()
    .regex(/^[a-z]{2}$/, "two-letter language code, e.g. en")
    .optional(),
});

function idOf(raw: string): string {
  const id = cannedReplyId.safeParse(raw);
  if (!id.success) throw new ValidationError("invalid id", toIssues(id.error, "id"));
  return id.data;
}

export function cannedReplyRoutes(sql: Sql, bankPhone: string) {
  const app = new Hono<AuthEnv>();
  app.get("/", requireRole("advocate", "supervisor"), async (c) => {
    const q = languageQuery.safeParse(c.req.query());
    if (!q.success) throw new ValidationError("invalid query", toIssues(q.error, "query"));
    return c.json({ items: await listCannedReplies(sql, q.data.language) }, 200);
  });
  app.get("/:id", requireRole("advocate", "supervisor"), async (c) => {
    const reply = await getCannedReply(sql, idOf(c.req.param("id")));
    if (!reply) throw new NotFoundError(`no canned reply ${c.req.param("id")}`);
    return c.json(reply, 200);
  });
  app.put("/:id", requireRole("supervisor"), async (c) => {
    const id = idOf(c.req.param("id"));
    const reply = checkedCannedReply(await jsonBody(c, cannedReplyBody), bankPhone);
    const p = c.get("principal");
    const saved = await putCannedReply(sql, id, reply, p.advocateId ?? p.tokenId);
    await audit(
      sql,
      p.tokenId,
      saved.created ? "canned_reply.created" : "canned_reply.changed",
      `canned_reply:${id}`,
      reply,
    );
    return c.json(saved.reply, saved.created ? 201 : 200);
  });
  app.delete("/:id", requireRole("supervisor"), async (c) => {
    const id = idOf(c.req.param("id"));
    if (!(await deleteCannedReply(sql, id))) throw new NotFoundError(`no canned reply ${id}`);
    await audit(sql, c.get("principal").tokenId, "canned_reply.removed", `canned_reply:${id}`);
    return c.body(null, 204);
  });
  return app;
}
