/**
 * `POST /v1/cases/:id/answers`: the bank's app backend reports the customer's YES or NO to a
 * question touchpoint asked in the app (role `ingest`). Recorded as owed work and applied by the
 * `replies` worker exactly as a YES / NO text is; the same answer (its `answerId`, else the
 * request's Idempotency-Key) is applied once however often it is sent.
 */
import { randomUUID } from "node:crypto";
import { Hono } from "hono";
import { z } from "zod";
import { ConflictError, NotFoundError } from "../../engine/errors.ts";
import { text } from "../../engine/events.ts";
import type { Logger } from "../../engine/log.ts";
import type { Sql } from "../../engine/store/database.ts";
import { jobId, owe, type Queues } from "../../workers/queues.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { jsonBody } from "../errors.ts";

const answerBody = z.strictObject({
  answer: z.enum(["yes", "no"]),
  /** The app's own id for this answer: a retry with the same id changes nothing. */
  answerId: text(100)
    .regex(/^[A-Za-z0-9._:~-]+$/, "letters, digits and . _ : ~ - only")
    .optional(),
});

export function answerRoutes(sql: Sql, queues: Queues, log: Logger) {
  const app = new Hono<AuthEnv>();
  app.post("/:id/answers", requireRole("ingest"), async (c) => {
    const caseId = c.req.param("id");
    const body = await jsonBody(c, answerBody);
    const [kase] = await sql`
      select status, exists (select 1 from messages m where m.case_id = c.id and m.direction = 'outbound'
        and m.channel = 'app' and m.kind in ('fraud_check', 'behaviour_check', 'reminder', 'behaviour_reminder')) as asked
      from cases c where c.id = ${caseId}`;
    if (!kase) throw new NotFoundError(`case ${caseId} not found`);
    // An answer is to a question: the app's backend cannot settle a case nobody asked it about.
    if (!kase.asked)
      throw new ConflictError(`no question was asked in the app on case ${caseId}`, { caseId });
    const answerId = body.answerId ?? c.req.header("idempotency-key")?.slice(0, 100) ?? randomUUID();
    await owe(
      sql,
      queues.replies,
      "answer",
      { kind: "answer", answer: { caseId, answer: body.answer, answerId } },
      { jobId: jobId("app", caseId, answerId) },
      (err) => log.warn({ err: String(err) }, "app answer stored, queued later (Redis unavailable)"),
    );
    return c.json(
      { caseId, answer: body.answer, answerId, status: "accepted", caseStatus: kase.status },
      202,
    );
  });
  return app;
}
