/**
 * Vonage's Messages API webhooks. Each request is verified (signed JWT, body hash, age), parsed,
 * and put on queue `replies`; the answer is a fast 200 so Vonage does not resend. A resent webhook
 * has the same message_uuid: its job id dedupes it, and its effects are idempotent anyway.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { UnauthorizedError, ValidationError } from "../../engine/errors.ts";
import { cleanText, inputIssues } from "../../engine/input.ts";
import type { Logger } from "../../engine/log.ts";
import { maskPhone } from "../../engine/log.ts";
import { toE164 } from "../../engine/outreach/conversation.ts";
import { verifyVonageWebhook } from "../../engine/outreach/signature.ts";
import type { Sql } from "../../engine/store/database.ts";
import { jobId, owe, type Queues } from "../../workers/queues.ts";
import { toIssues } from "../errors.ts";

/** The largest webhook body taken, bytes. */
const MAX_WEBHOOK_BYTES = 64 * 1024;

const number = z.string().regex(/^\+?\d{3,20}$/, "digits only, as Vonage sends them");

export const inboundSchema = z.looseObject({
  channel: z.literal("sms"),
  message_uuid: z.string().min(1).max(100),
  to: z.string().min(1).max(32),
  from: number,
  timestamp: z.string().optional(),
  message_type: z.literal("text"),
  // Postgres cannot hold NUL nor an unpaired surrogate; a phone can send either. Cleaned rather
  // than refused, or Vonage resends for ever.
  text: z.string().max(2000).transform(cleanText),
});

export const statusSchema = z.looseObject({
  message_uuid: z.string().min(1).max(100),
  to: z.string().max(32).optional(),
  from: z.string().max(32).optional(),
  timestamp: z.string().optional(),
  status: z.enum(["submitted", "delivered", "rejected", "undeliverable", "read"]),
  channel: z.string().optional(),
  client_ref: z.string().max(100).optional(),
  error: z
    .looseObject({
      type: z.string().optional(),
      title: z.union([z.string(), z.number()]).optional(),
      detail: z.string().optional(),
    })
    .optional(),
});

export interface WebhookDeps {
  sql: Sql;
  queues: Queues;
  log: Logger;
  /** VONAGE_SIGNATURE_SECRET; when unset, webhooks are refused unless `insecure`. */
  secret?: string;
  insecure: boolean;
  now?: () => Date;
}

export function vonageWebhooks(deps: WebhookDeps) {
  const app = new Hono();
  const now = deps.now ?? (() => new Date());
  const queueLater = (err: unknown) =>
    deps.log.warn(
      { err: err instanceof Error ? err.message : String(err) },
      "webhook stored but not queued (Redis unavailable): the reconciler will queue it",
    );

  async function verified<S extends z.ZodType>(
    raw: string,
    authorization: string | undefined,
    schema: S,
  ): Promise<z.output<S>> {
    if (deps.secret) {
      try {
        await verifyVonageWebhook({ authorization, rawBody: raw, secret: deps.secret, now: now() });
      } catch (err) {
        deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, "webhook refused");
        throw new UnauthorizedError("invalid webhook signature");
      }
    } else if (!deps.insecure) {
      throw new UnauthorizedError("webhooks are disabled: set VONAGE_SIGNATURE_SECRET");
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new ValidationError("malformed JSON", [{ path: "(body)", message: "not valid JSON" }]);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new ValidationError("not a Messages API webhook", toIssues(parsed.error));
    const bad = inputIssues(parsed.data);
    if (bad.length > 0) throw new ValidationError("invalid text in the webhook", bad);
    return parsed.data;
  }

  // Vonage's payloads are a few hundred bytes: a bigger body is refused as it streams in, before
  // anything is parsed or its signature checked.
  app.use(
    "*",
    bodyLimit({
      maxSize: MAX_WEBHOOK_BYTES,
      onError: (c) => c.json({ error: { code: "too_large", message: "webhook body too large" } }, 413),
    }),
  );

  app.post("/inbound", async (c) => {
    const m = await verified(await c.req.text(), c.req.header("authorization"), inboundSchema);
    // Recorded in Postgres before the 200: once Vonage stops resending, this is the only copy.
    await owe(
      deps.sql,
      deps.queues.replies,
      "inbound",
      {
        kind: "inbound",
        text: { messageUuid: m.message_uuid, from: toE164(m.from), to: m.to, text: m.text },
      },
      { jobId: jobId("in", m.message_uuid) },
      queueLater,
    );
    deps.log.info({ messageUuid: m.message_uuid, from: maskPhone(toE164(m.from)) }, "inbound text queued");
    return c.json({ ok: true }, 200);
  });

  app.post("/status", async (c) => {
    const s = await verified(await c.req.text(), c.req.header("authorization"), statusSchema);
    const error = s.error
      ? {
          ...(s.error.type ? { type: s.error.type } : {}),
          ...(s.error.title !== undefined ? { title: String(s.error.title) } : {}),
          ...(s.error.detail ? { detail: s.error.detail } : {}),
        }
      : undefined;
    await owe(
      deps.sql,
      deps.queues.replies,
      "status",
      {
        kind: "status",
        receipt: {
          messageUuid: s.message_uuid,
          status: s.status,
          ...(s.client_ref ? { clientRef: s.client_ref } : {}),
          ...(error ? { error } : {}),
        },
      },
      { jobId: jobId("st", s.message_uuid, s.status) },
      queueLater,
    );
    return c.json({ ok: true }, 200);
  });
  return app;
}
