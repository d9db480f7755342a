/** Cases: the list, one case with its full context, and an advocate's resolution or note. */
import { type Context, Hono } from "hono";
import type { CountryCode } from "libphonenumber-js";
import { z } from "zod";
import { transferCase } from "../../engine/cases/assignments.ts";
import { callBody, logCall } from "../../engine/cases/call-log.ts";
import type { TransferKind } from "../../engine/cases/routing.ts";
import {
  ConflictError,
  ForbiddenError,
  NotFoundError,
  UnprocessableError,
  ValidationError,
} from "../../engine/errors.ts";
import { text } from "../../engine/events.ts";
import { maskPhone } from "../../engine/log.ts";
import type { Metrics } from "../../engine/metrics.ts";
import { writeToCustomer } from "../../engine/outreach/advocate.ts";
import {
  blockCards,
  type CaseActions,
  deliverToSchema,
  replaceCard,
} from "../../engine/outreach/card-actions.ts";
import { oweFeedback } from "../../engine/outreach/feedback.ts";
import { lookupPhone } from "../../engine/people.ts";
import { caseDetail, listCases } from "../../engine/store/case-views.ts";
import { resolveCase } from "../../engine/store/cases.ts";
import type { Sql } from "../../engine/store/database.ts";
import { casesForPhone } from "../../engine/store/lookup.ts";
import { getCustomer } from "../../engine/store/people.ts";
import { addTimeline, timelineDetailByKey } from "../../engine/store/timeline.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { jsonBody, queryOf } from "../errors.ts";

const listQuery = z.strictObject({
  customerId: z.string().max(128).optional(),
  /** A caller's number in any common format: their open case, else their latest (a screen pop). */
  phone: z.string().max(40).optional(),
  status: z.enum(["open", "resolved"]).optional(),
  advocateId: z.string().max(128).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const resolveBody = z.strictObject({
  outcome: z.enum(["confirmed_fraud", "false_alarm"]),
  note: text(4000).optional(),
});

const noteBody = z.strictObject({ text: text(4000) });

/** Advocates (and team-bound supervisors) see only their team's cases. */
export function teamScope(p: Principal): string | undefined {
  if (p.role === "advocate") {
    if (!p.team) throw new ForbiddenError("advocate token has no team");
    return p.team;
  }
  return p.role === "supervisor" && p.team ? p.team : undefined;
}

/**
 * Only supervisors and admins read a customer's full number over the API; advocates see it on the
 * desk on request, audited. Everyone else gets it masked.
 */
export function forRole<T extends { customer: { phone: string } | null }>(p: Principal, detail: T): T {
  if (p.role === "supervisor" || p.role === "admin" || !detail.customer) return detail;
  return { ...detail, customer: { ...detail.customer, phone: maskPhone(detail.customer.phone) } };
}

export async function visibleCase(sql: Sql, p: Principal, id: string) {
  const detail = await caseDetail(sql, id);
  const team = teamScope(p);
  // Not found rather than forbidden: another team's case ids are not confirmed to exist.
  if (team && detail.team !== team) throw new NotFoundError(`case ${id} not found`);
  return detail;
}

const messageBody = z.strictObject({ text: z.string().max(2000) });

const actionBody = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("card.replace"),
    /** Which card, when the case is about more than one. */
    cardId: z.string().max(128).optional(),
    deliverTo: deliverToSchema,
  }),
  z.strictObject({
    type: z.literal("card.block"),
    /** Why, for the card system and the timeline, e.g. "customer said on the phone it was not them". */
    reason: text(500),
  }),
]);

const transferBody = z.strictObject({
  to: z.string().min(1).max(128),
  /** What the colleague needs to know first: required for a hand-off. */
  note: text(2000).optional(),
});

export function caseRoutes(
  sql: Sql,
  metrics: Metrics,
  texting: CaseActions,
  phoneCountry?: CountryCode | undefined,
) {
  const app = new Hono<AuthEnv>();
  const readers = requireRole("advocate", "supervisor", "risk");
  app.get("/", readers, async (c) => {
    const { phone, ...q } = queryOf(c, listQuery);
    const team = teamScope(c.get("principal"));
    if (phone !== undefined) {
      const e164 = lookupPhone(phone, phoneCountry);
      if (!e164)
        throw new ValidationError("bad phone", [
          { path: "phone", message: "not a phone number; e.g. +447911123042 or 07911 123042" },
        ]);
      const ids = await casesForPhone(sql, e164, team);
      const items = ids.length === 0 ? [] : await listCases(sql, { ...q, ids, ...(team ? { team } : {}) });
      return c.json({ items }, 200);
    }
    const items = await listCases(sql, { ...q, ...(team ? { team } : {}) });
    return c.json({ items }, 200);
  });
  app.get("/:id", readers, async (c) => {
    const p = c.get("principal");
    return c.json(forRole(p, await visibleCase(sql, p, c.req.param("id"))), 200);
  });
  app.post("/:id/resolve", requireRole("advocate", "supervisor"), async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const body = await jsonBody(c, resolveBody);
    const r = await resolveCase(
      sql,
      kase.id,
      body.outcome,
      p.advocateId ?? p.tokenId,
      `resolved:${kase.id}`,
      {
        by: "advocate",
        note: body.note ?? null,
      },
    );
    const { resolved, secondsOpen } = r;
    if (resolved) metrics.timeToResolve.observe({ outcome: body.outcome, by: "advocate" }, secondsOpen);
    await oweFeedback(texting.feedbackAfterResolution, texting.owe, kase.id, r);
    return c.json({ resolved, case: forRole(p, await caseDetail(sql, kase.id)) }, 200);
  });
  // The advocate's own text to the customer, through the outreach path (Vonage or the outbox).
  // An Idempotency-Key header makes a retried request the same text, not a second one.
  app.post("/:id/messages", requireRole("advocate", "supervisor"), async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const body = await jsonBody(c, messageBody);
    const key = c.req.header("idempotency-key");
    if (key !== undefined && !/^[A-Za-z0-9_-]{1,100}$/.test(key))
      throw new ValidationError("bad Idempotency-Key", [
        { path: "Idempotency-Key", message: "1 to 100 letters, digits, '-' or '_'" },
      ]);
    const { message, created } = await writeToCustomer(texting, {
      caseId: kase.id,
      customerId: kase.customerId,
      text: body.text,
      author: p.advocateId ?? p.tokenId,
      ...(key ? { idempotencyKey: key } : {}),
    });
    return c.json(
      {
        id: message.id,
        caseId: kase.id,
        body: message.body,
        status: message.status,
        transport: message.transport,
        createdAt: message.createdAt.toISOString(),
      },
      created ? 202 : 200,
    );
  });
  // People moving work, under the routing rules (team, online, capacity); each move on the timeline.
  const move = (kind: TransferKind) => async (c: Context<AuthEnv>) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id") ?? "");
    const body =
      kind === "claim" ? { to: p.advocateId ?? "", note: undefined } : await jsonBody(c, transferBody);
    if (kind === "handoff" && !body.note)
      throw new ValidationError("a hand-off needs a note", [
        { path: "note", message: "say what the colleague needs to know first" },
      ]);
    await transferCase(sql, {
      caseId: kase.id,
      toId: body.to,
      kind,
      by: { role: p.role, advocateId: p.advocateId ?? null, label: p.label || p.advocateId || p.tokenId },
      note: body.note,
      now: new Date(),
    });
    return c.json(forRole(p, await visibleCase(sql, p, kase.id)), 200);
  };
  app.post("/:id/claim", requireRole("advocate"), move("claim"));
  app.post("/:id/handoff", requireRole("advocate", "supervisor"), move("handoff"));
  app.post("/:id/reassign", requireRole("supervisor"), move("reassign"));
  // Actions on a case for the bank's other systems; today: a replacement card after confirmed fraud.
  app.post("/:id/actions", requireRole("advocate", "supervisor"), async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const body = await jsonBody(c, actionBody);
    const customer = await getCustomer(sql, kase.customerId);
    if (!customer) throw new ConflictError(`customer ${kase.customerId} is not on file`);
    const by = p.advocateId ?? p.tokenId;
    if (body.type === "card.block") {
      const { action, repeated } = await blockCards(
        { ...texting, now: new Date() },
        { kase, customerId: customer.id, reason: body.reason, by },
      );
      return c.json({ action, repeated }, repeated ? 200 : 202);
    }
    const { action, texted, repeated } = await replaceCard(
      { ...texting, now: new Date() },
      { kase, customer, cardId: body.cardId, deliverTo: body.deliverTo, by },
    );
    // The card system gets the whole address; the answer does not repeat it.
    const answer = { ...action, deliverTo: { kind: action.deliverTo.kind } };
    return c.json({ action: answer, texted, repeated }, repeated ? 200 : 202);
  });
  app.post("/:id/notes", requireRole("advocate", "supervisor"), async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const body = await jsonBody(c, noteBody);
    const key = idempotencyKeyOf(c) ?? `note:${kase.id}:${crypto.randomUUID()}`;
    const idemKey = `note:${kase.id}:${key}`;
    const added = await addTimeline(
      sql,
      kase.id,
      "note.added",
      idemKey,
      { text: body.text },
      { actor: p.advocateId ?? p.tokenId },
    );
    // The same key is the same note: another text under it is refused, not silently dropped.
    if (!added && (await timelineDetailByKey(sql, idemKey))?.text !== body.text)
      throw new UnprocessableError("this Idempotency-Key was used for another note", [
        {
          path: "Idempotency-Key",
          message: "already used on this case for a different note; send a new note with a new key",
        },
      ]);
    return c.json(forRole(p, await caseDetail(sql, kase.id)), 200);
  });
  // A call the advocate made, logged; whether it answers the call task is `attentionSql`'s to say.
  app.post("/:id/calls", requireRole("advocate", "supervisor"), async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const body = await jsonBody(c, callBody);
    const added = await logCall(sql, {
      ...body,
      caseId: kase.id,
      by: p.advocateId ?? p.tokenId,
      key: idempotencyKeyOf(c) ?? crypto.randomUUID(),
    });
    return c.json(forRole(p, await caseDetail(sql, kase.id)), added ? 201 : 200);
  });
  return app;
}

/** The request's Idempotency-Key, checked as notes and calls accept it; undefined if none was sent. */
function idempotencyKeyOf(c: Context<AuthEnv>): string | undefined {
  const given = c.req.header("idempotency-key");
  if (given !== undefined && !/^[\x21-\x7e]{1,200}$/.test(given)) {
    throw new ValidationError("invalid Idempotency-Key", [
      { path: "Idempotency-Key", message: "1-200 printable ASCII characters" },
    ]);
  }
  return given;
}
