/**
 * Vonage's Messages API webhooks. Each request is verified (signed JWT, body hash, age), parsed,
 * and put on queue `replies`; the answer is a fast 200 so Vonage does not resend. A resent webhook
 * has the same message_uuid: its job id dedupes it, and its effects are idempotent anyway.
 */
import { createHash } from "node:crypto";
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { Redis } from "ioredis";
import { z } from "zod";
import { UnauthorizedError, ValidationError } from "../../engine/errors.ts";
import { cleanText, inputIssues } from "../../engine/input.ts";
import type { Logger } from "../../engine/log.ts";
import { maskPhone } from "../../engine/log.ts";
import {
  advocateDidNotAnswer,
  answerInboundCall,
  keypadReply,
  type VoiceSetup,
} from "../../engine/outreach/calls.ts";
import { toE164 } from "../../engine/outreach/conversation.ts";
import { parseCallEvent, parseKeypad } from "../../engine/outreach/ncco.ts";
import { verifyVonageWebhook } from "../../engine/outreach/signature.ts";
import type { Sql } from "../../engine/store/database.ts";
import { jobId, owe, type Queues } from "../../workers/queues.ts";
import { toIssues } from "../errors.ts";

/** The largest webhook body taken, bytes. */
const MAX_WEBHOOK_BYTES = 64 * 1024;

const number = z.string().regex(/^\+?\d{3,20}$/, "digits only, as Vonage sends them");

export const inboundSchema = z
  .looseObject({
    // WhatsApp replies arrive here too, and move a case exactly as an SMS reply does.
    channel: z.enum(["sms", "whatsapp"]),
    message_uuid: z.string().min(1).max(100),
    to: z.string().min(1).max(32),
    from: number,
    timestamp: z.string().optional(),
    // A WhatsApp quick-reply button ("YES" under a template) arrives as `button` with its text;
    // a voice note, a photo, a location… as their own types, kept for the advocate to read.
    message_type: z.string().regex(/^[a-z_]{1,40}$/, "a Messages API message type"),
    // Postgres cannot hold NUL nor an unpaired surrogate; a phone can send either. Cleaned rather
    // than refused, or Vonage resends for ever.
    text: z.string().max(2000).transform(cleanText).optional(),
    button: z
      .looseObject({ text: z.string().max(2000).optional(), payload: z.string().max(2000).optional() })
      .optional(),
    reply: z
      .looseObject({ title: z.string().max(2000).optional(), id: z.string().max(2000).optional() })
      .optional(),
  })
  .transform((m, ctx) => {
    if (m.channel === "sms" && m.message_type !== "text") {
      ctx.addIssue({ code: "custom", path: ["message_type"], message: "an SMS is text" });
      return z.NEVER;
    }
    const words =
      m.message_type === "text"
        ? m.text
        : m.message_type === "button"
          ? (m.button?.text ?? m.button?.payload)
          : m.message_type === "reply"
            ? m.reply?.title
            : // Never YES or NO: a person reads it in WhatsApp (the advocate is alerted).
              `[${m.message_type.replace(/_/g, " ")} sent on WhatsApp: open it there]`;
    if (words === undefined) {
      ctx.addIssue({
        code: "custom",
        path: [m.message_type],
        message: `a ${m.message_type} message carries its words`,
      });
      return z.NEVER;
    }
    return { ...m, text: cleanText(words) };
  });

/**
 * The customer's send time from Vonage's `timestamp`, ISO, when it reads as a time no later than
 * now (a clock a little ahead is read as now); a delayed webhook thus does not stretch WhatsApp's
 * 24-hour window.
 */
function sentAt(timestamp: string | undefined, now: Date): string | undefined {
  const at = timestamp ? Date.parse(timestamp) : Number.NaN;
  if (!Number.isFinite(at) || at < Date.UTC(2000, 0, 1)) return undefined;
  return new Date(Math.min(at, now.getTime())).toISOString();
}

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
  /** The voice webhooks' setup (the bank, the calls' number, PUBLIC_URL, TEAM_LINES). */
  voice: VoiceSetup;
  /**
   * Where the voice webhooks remember the tokens they took (`jti`, for their 5-minute life): a
   * token seen again with other fields is a replay. Unset: not remembered (tests of one route).
   */
  replays?: { redis: Redis; keyPrefix: string };
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
    await signed(raw, authorization);
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new ValidationError("malformed JSON", [{ path: "(body)", message: "not valid JSON" }]);
    }
    return parse(body, schema);
  }

  /**
   * Vonage's signature over the raw body (empty for a GET), or 401. With `request` (the voice
   * webhooks), the token is also tied to what it came with: Vonage signs the body, not the URL,
   * so a token seen again with another URL (a GET's caller, a keypad URL's case) or body is a
   * replay and refused; the same request again (Vonage's own retry) passes.
   */
  async function signed(raw: string, authorization: string | undefined, request?: string): Promise<void> {
    if (deps.secret) {
      let claims: { jti?: unknown };
      try {
        claims = await verifyVonageWebhook({ authorization, rawBody: raw, secret: deps.secret, now: now() });
      } catch (err) {
        deps.log.warn({ err: err instanceof Error ? err.message : String(err) }, "webhook refused");
        throw new UnauthorizedError("invalid webhook signature");
      }
      if (request !== undefined && deps.replays && typeof claims.jti === "string") {
        const key = `${deps.replays.keyPrefix}:jti:${claims.jti.slice(0, 100)}`;
        const what = createHash("sha256").update(request).update("\n").update(raw).digest("hex");
        const set = await deps.replays.redis.set(key, what, "EX", 600, "NX");
        if (set === null && (await deps.replays.redis.get(key)) !== what) {
          deps.log.warn({ jti: claims.jti }, "voice webhook refused: a token replayed with other fields");
          throw new UnauthorizedError("invalid webhook signature");
        }
      }
    } else if (!deps.insecure) {
      throw new UnauthorizedError("webhooks are disabled: set VONAGE_SIGNATURE_SECRET");
    }
  }

  function parse<S extends z.ZodType>(body: unknown, schema: S): z.output<S> {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new ValidationError("not a Vonage webhook", toIssues(parsed.error));
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
        text: {
          messageUuid: m.message_uuid,
          from: toE164(m.from),
          to: m.to,
          text: m.text,
          ...(m.channel === "whatsapp" ? { channel: "whatsapp" as const } : {}),
          ...(sentAt(m.timestamp, now()) ? { sentAt: sentAt(m.timestamp, now()) } : {}),
        },
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
  // ------------------------------------------------------------------ voice

  /** A voice webhook's fields: the query of a GET (Vonage's default for answer URLs), else the JSON body. */
  async function voiceRequest(c: Context): Promise<unknown> {
    const request = `${c.req.method} ${new URL(c.req.url).pathname}${new URL(c.req.url).search}`;
    if (c.req.method === "GET") {
      await signed("", c.req.header("authorization"), request);
      return c.req.query();
    }
    const raw = await c.req.text();
    await signed(raw, c.req.header("authorization"), request);
    try {
      return JSON.parse(raw);
    } catch {
      throw new ValidationError("malformed JSON", [{ path: "(body)", message: "not valid JSON" }]);
    }
  }

  // A customer calls the bank's number: put through to the person who knows their case.
  const answer = async (c: Context) => {
    const call = parse(await voiceRequest(c), answerSchema);
    const ncco = await answerInboundCall(deps.sql, deps.voice, deps.log, {
      from: toE164(call.from),
      to: call.to,
      uuid: call.uuid,
      now: now(),
      conversationUuid: call.conversation_uuid,
    });
    return c.json(ncco, 200);
  };
  app.get("/voice/answer", answer);
  app.post("/voice/answer", answer);

  // The keypad of the automated call (the NCCO `input` action's eventUrl): the next NCCO at once,
  // the case's change as owed work, so an answer is never lost once Vonage has had its reply.
  app.post("/voice/input", async (c) => {
    const body = await voiceRequest(c);
    const q = parse(c.req.query(), keypadQuery);
    const keypad = parseKeypad(body);
    const { ncco, job } = await keypadReply(deps.sql, deps.voice, {
      caseId: q.case,
      attempt: q.attempt,
      keypad,
      messageId: q.message,
    });
    if (job)
      await owe(
        deps.sql,
        deps.queues.replies,
        "keypad",
        job,
        { jobId: jobId("key", keypad.uuid, String(q.attempt)) },
        queueLater,
      );
    return c.json(ncco, 200);
  });

  // The connect to a named advocate (eventType synchronous) reports its leg here: when the
  // advocate does not answer, the answer is the next NCCO, the team's line.
  app.post("/voice/fallback", async (c) => {
    const body = (await voiceRequest(c)) as Record<string, unknown> | null;
    const q = parse(c.req.query(), fallbackQuery);
    const status = typeof body?.status === "string" ? body.status : "";
    const uuid =
      typeof body?.uuid === "string" ? body.uuid : typeof body?.call_uuid === "string" ? body.call_uuid : "";
    const conversation =
      typeof body?.conversation_uuid === "string" ? body.conversation_uuid.slice(0, 100) : "";
    const ncco = await advocateDidNotAnswer(deps.sql, deps.voice, {
      caseId: q.case,
      uuid: uuid.slice(0, 100),
      status,
      conversationUuid: conversation,
    });
    return ncco ? c.json(ncco, 200) : c.body(null, 204);
  });

  // Call states: ringing, answered, machine, completed, unanswered…
  app.post("/voice/event", async (c) => {
    const event = parseCallEvent(await voiceRequest(c));
    const messageId = c.req.query("message");
    if (event.known)
      await owe(
        deps.sql,
        deps.queues.replies,
        "call",
        { kind: "call", event, ...(messageId && /^\d{1,18}$/.test(messageId) ? { messageId } : {}) },
        { jobId: jobId("call", event.uuid, event.status, event.subState ?? "") },
        queueLater,
      );
    return c.json({ ok: true }, 200);
  });
  return app;
}

const answerSchema = z.looseObject({
  from: z.string().regex(/^\+?\d{3,20}$/, "the caller's number, digits"),
  to: z.string().min(1).max(40),
  uuid: z.string().min(1).max(100),
  conversation_uuid: z.string().min(1).max(100).optional(),
});

const fallbackQuery = z.looseObject({
  case: z.string().regex(/^case-[a-z0-9-]{1,60}$/, "a case id"),
});

const keypadQuery = z.looseObject({
  case: z.string().regex(/^case-[a-z0-9-]{1,60}$/, "a case id"),
  attempt: z.enum(["1", "2"]).transform((a) => Number(a) as 1 | 2),
  /** The call's row (for an answer that comes before the call's uuid is recorded). */
  message: z
    .string()
    .regex(/^\d{1,18}$/, "a message id")
    .optional(),
});
