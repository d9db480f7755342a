/**
 * The customer's side of the conversation: inbound texts and delivery receipts from Vonage's
 * webhooks, turned into case transitions. Every effect carries its own idempotency key, so a
 * resent webhook or a retried job changes nothing the second time.
 */
import type { Logger } from "../log.ts";
import { maskPhone } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import { audit } from "../store/audit.ts";
import { confirmFraud, resolveCase } from "../store/cases.ts";
import type { Sql } from "../store/database.ts";
import { caseCards } from "../store/decisions.ts";
import { recordFeedbackReply } from "../store/feedback.ts";
import { applyReceipt, recordInbound } from "../store/messages.ts";
import { addTimeline } from "../store/timeline.ts";
import type { OutreachJob } from "./contact.ts";
import { FEEDBACK_KIND, openQuestion, oweFeedback } from "./feedback.ts";
import { classifyReceipt } from "./receipts.ts";
import { parseReply, parseScore } from "./replies.ts";

export interface InboundText {
  /** sms unless said: WhatsApp replies arrive on the same webhook. */
  channel?: "sms" | "whatsapp";
  /** When the customer sent it (Vonage's `timestamp`), ISO: WhatsApp's 24-hour window starts there. */
  sentAt?: string;
  messageUuid: string;
  /** E.164 with '+', as stored for customers. */
  from: string;
  to: string;
  text: string;
}

export interface Receipt {
  messageUuid: string;
  status: string;
  clientRef?: string;
  error?: { type?: string; title?: string; detail?: string };
}

/** A request to the card (or online banking) system, published on the `actions` queue. */
export interface CardBlockAction {
  type: "card.block" | "account.lock";
  caseId: string;
  customerId: string;
  cards: Array<{ id: string; last4: string }>;
  reason: string;
}

export interface ConversationDeps {
  sql: Sql;
  log: Logger;
  metrics: Metrics;
  outreach(job: OutreachJob, jobId: string, delayMs?: number): Promise<void>;
  publishAction(action: CardBlockAction, jobId: string): Promise<void>;
  now(): Date;
  /** Minutes without a reply before the reminder (see ContactPolicyConfig). */
  replyTimeoutMinutes: number;
  /** FEEDBACK_AFTER_RESOLUTION: a YES that resolves a case owes the customer the feedback question. */
  feedbackAfterResolution?: boolean;
}

/** Vonage sends numbers without '+'. */
export function toE164(vonageNumber: string): string {
  const digits = vonageNumber.replace(/\D/g, "");
  return `+${digits}`;
}

async function customerByPhone(sql: Sql, phone: string) {
  // A number may belong to several customers (a joint account): prefer one with an open case.
  const [row] = await sql`
    select c.id, c.opted_out_at,
      (select id from cases k where k.customer_id = c.id and k.status = 'open') as open_case,
      (select id from cases k where k.customer_id = c.id order by k.opened_at desc limit 1) as last_case
    from customers c where c.phone = ${phone}
    order by (select count(*) from cases k where k.customer_id = c.id and k.status = 'open') desc, c.id limit 1`;
  return row as
    | { id: string; opted_out_at: Date | null; open_case: string | null; last_case: string | null }
    | undefined;
}

export async function handleInbound(deps: ConversationDeps, m: InboundText): Promise<string> {
  const { sql, log, metrics } = deps;
  const reply = parseReply(m.text);
  metrics.repliesReceived.inc({ kind: reply.kind });
  const customer = await customerByPhone(sql, m.from);
  const caseId = customer?.open_case ?? null;
  // A question asked after a resolution takes answers for a while: a digit 1-5 is its score, even
  // with a new case open (a digit answers no check); YES, NO, STOP and HELP are never a score.
  const question =
    customer && reply.kind === "other" ? await openQuestion(sql, customer.id, deps.now()) : undefined;
  const score = question ? parseScore(m.text) : undefined;
  const { created } = await recordInbound(sql, {
    providerId: m.messageUuid,
    // A reply after the case closed still belongs with it, where the advocate will read it.
    caseId: question && score !== undefined ? question.caseId : (caseId ?? customer?.last_case ?? null),
    customerId: customer?.id ?? null,
    body: m.text,
    from: m.from,
    to: m.to,
    kind: score !== undefined ? "reply.feedback" : `reply.${reply.kind}`,
    channel: m.channel ?? "sms",
    ...(m.sentAt ? { details: { sentAt: m.sentAt } } : {}),
  });
  if (!customer) {
    log.info(
      { from: maskPhone(m.from), messageUuid: m.messageUuid },
      "text from a number that belongs to no customer: logged, ignored",
    );
    return "unknown sender";
  }
  if (!created)
    log.info(
      { messageUuid: m.messageUuid },
      "inbound text seen before: re-applying its effects idempotently",
    );
  const uuid = m.messageUuid;
  if (question && score !== undefined) {
    const as = await recordFeedbackReply(sql, {
      caseId: question.caseId,
      key: `feedback:${uuid}`,
      text: m.text,
      score,
      at: deps.now(),
    });
    return as === "score" ? "feedback score" : "feedback";
  }

  if (reply.kind === "stop") {
    // Opt-out is per customer and per channel: it holds for every sender id and every later
    // case, and STOP on WhatsApp stops WhatsApp, not texts (nor calls).
    const whatsapp = m.channel === "whatsapp";
    const [opted] = whatsapp
      ? await sql`
          update customers set whatsapp_opted_out_at = ${deps.now()}, updated_at = now()
          where id = ${customer.id} and whatsapp_opted_out_at is null returning id`
      : await sql`
          update customers set opted_out_at = ${deps.now()}, updated_at = now()
          where id = ${customer.id} and opted_out_at is null returning id`;
    if (opted)
      await audit(sql, `customer:${customer.id}`, "customer.opt_out", `customer:${customer.id}`, {
        messageUuid: uuid,
        channel: whatsapp ? "whatsapp" : "sms",
      });
    if (caseId)
      await addTimeline(sql, caseId, "contact.opted_out", `optout:${uuid}`, {
        text: m.text,
        channel: whatsapp ? "whatsapp" : "sms",
        reason: whatsapp
          ? "customer replied STOP on WhatsApp: no more WhatsApp messages"
          : "customer replied STOP: no more texts",
      });
    // One confirmation per opt-out, however often STOP is repeated.
    const [{ since }] = (whatsapp
      ? await sql`select whatsapp_opted_out_at as since from customers where id = ${customer.id}`
      : await sql`select opted_out_at as since from customers where id = ${customer.id}`) as unknown as [
      { since: Date },
    ];
    const tag = `${whatsapp ? "wa-" : ""}${since.getTime()}`;
    await deps.outreach(
      {
        type: "respond",
        customerId: customer.id,
        caseId,
        kind: "opt_out_confirmation",
        key: `${customer.id}:optout:${tag}`,
      },
      `respond-optout-${customer.id}-${tag}`,
    );
    return "opted out";
  }
  if (reply.kind === "help") {
    await deps.outreach(
      { type: "respond", customerId: customer.id, caseId, kind: "help", key: `help:${uuid}` },
      `respond-help-${uuid}`,
    );
    if (caseId)
      await addTimeline(sql, caseId, "reply.received", `reply:${uuid}`, { text: m.text, kind: "help" });
    return "help";
  }
  if (!caseId) {
    log.info({ customerId: customer.id, kind: reply.kind }, "reply with no open case: kept for the advocate");
    const last = customer.last_case;
    if (!last) return "no case";
    await addTimeline(sql, last, "reply.received", `reply:${uuid}`, {
      text: m.text,
      kind: reply.kind,
      note: "arrived after the case was closed",
    });
    // Words after the question (with or instead of a score) are kept with it too; the advocate is
    // still alerted below, as for any late text: "it was not me after all" must not wait.
    if (question?.caseId === last)
      await recordFeedbackReply(sql, { caseId: last, key: `feedback:${uuid}`, text: m.text, at: deps.now() });
    const [closed] = await sql`select outcome, resolved_at, advocate_id, team from cases where id = ${last}`;
    const recentYes =
      reply.kind === "yes" &&
      closed?.outcome === "false_alarm" &&
      closed.resolved_at &&
      deps.now().getTime() - (closed.resolved_at as Date).getTime() < 24 * 3600_000;
    if (recentYes) {
      // Most likely our own YES, retried after it closed the case but before it queued its thanks:
      // queue the same thanks (same key: it goes out at most once).
      await deps.outreach(
        {
          type: "respond",
          customerId: customer.id,
          caseId: last,
          kind: "thanks_false_alarm",
          key: `${last}:thanks`,
        },
        `respond-thanks-${last}`,
      );
      await oweFeedback(deps.feedbackAfterResolution, deps.outreach, last, {
        status: "resolved",
        advocateId: closed.advocate_id,
        team: closed.team,
        resolvedAt: closed.resolved_at,
      });
      return "no open case";
    }
    if (reply.kind !== "yes") {
      // A NO, or anything else, after the case was closed: a person must read it.
      await addTimeline(sql, last, "advocate.alerted", `alert:${uuid}:late`, {
        reason: `the customer wrote after the case was closed ("${m.text.slice(0, 80)}"): read it, call if needed`,
      });
    }
    return "no open case";
  }
  await addTimeline(sql, caseId, "reply.received", `reply:${uuid}`, { text: m.text, kind: reply.kind });

  if (reply.kind === "no" || reply.kind === "yes")
    return applyAnswer(deps, {
      caseId,
      customerId: customer.id,
      answer: reply.kind,
      ref: uuid,
      text: m.text,
      via: m.channel === "whatsapp" ? "WhatsApp" : "text",
    });
  // Anything else is for a person to read; never guessed at.
  await addTimeline(sql, caseId, "advocate.alerted", `alert:${uuid}`, {
    reason: "the customer wrote something other than YES or NO: read it",
  });
  return "for the advocate";
}

/**
 * The customer's YES or NO to a case's question, however it came (a text, WhatsApp, the bank's
 * app, the keypad of an automated call): NO confirms fraud, blocks the card (or locks the
 * account) and alerts the advocate; YES resolves the case as a false alarm. Every effect has its
 * own key, so the same answer applied twice changes nothing the second time.
 */
export async function applyAnswer(
  deps: ConversationDeps,
  a: {
    caseId: string;
    customerId: string;
    answer: "yes" | "no";
    /** Unique per answer (Vonage's message or call uuid, the app's answer id): the effects' keys. */
    ref: string;
    text: string;
    /** How it came, in words for the timeline: "text", "WhatsApp", "the app", "keypad". */
    via: string;
  },
): Promise<string> {
  const { sql } = deps;
  const caseId = a.caseId;
  if (a.answer === "no") {
    const r = await confirmFraud(
      sql,
      caseId,
      `customer:${a.customerId}`,
      {
        by: `customer ${a.via === "keypad" ? "keypad answer" : "reply"}`,
        via: a.via,
        text: a.text,
        reason: "the customer answered NO; the case stays open for the advocate's call",
      },
      deps.now(),
    );
    if (r.outcome !== "confirmed_fraud") return changedAnswer(deps, caseId, a.ref, "NO", r.outcome);
    const cards = await caseCards(sql, caseId);
    // A card in the evidence is blocked; a case of account behaviour only (a new payee after a
    // password reset) has no card, so the account is locked instead.
    const hasCard = cards.length > 0;
    const action: CardBlockAction = {
      type: hasCard ? "card.block" : "account.lock",
      caseId,
      customerId: a.customerId,
      cards,
      reason: hasCard
        ? "customer answered NO: they did not make the payment"
        : "customer answered NO: it was not them",
    };
    await addTimeline(
      sql,
      caseId,
      hasCard ? "action.card_block" : "action.account_lock",
      `action:${caseId}`,
      {
        cards: action.cards.map((c) => `••${c.last4}`),
        reason: action.reason,
      },
    );
    await deps.publishAction(action, `${hasCard ? "card-block" : "account-lock"}-${caseId}`);
    await addTimeline(sql, caseId, "advocate.alerted", `alert:${caseId}:confirmed`, {
      reason: `customer confirmed fraud by ${a.via}: call them, the ${hasCard ? "card is being blocked" : "account is being locked"}`,
    });
    const kind = hasCard ? "card_blocked" : "account_secured";
    await deps.outreach(
      { type: "respond", customerId: a.customerId, caseId, kind, key: `${caseId}:${kind}` },
      `respond-${kind}-${caseId}`,
    );
    return "confirmed fraud";
  }
  if (a.answer === "yes") {
    const r = await resolveCase(
      sql,
      caseId,
      "false_alarm",
      `customer:${a.customerId}`,
      `resolved:${caseId}`,
      { by: `customer ${a.via === "keypad" ? "keypad answer" : "reply"}`, via: a.via, text: a.text },
      deps.now(),
      { keepOutcome: true },
    );
    if (r.resolved)
      deps.metrics.timeToResolve.observe({ outcome: "false_alarm", by: "customer" }, r.secondsOpen);
    if (r.outcome !== "false_alarm") return changedAnswer(deps, caseId, a.ref, "YES", r.outcome);
    await oweFeedback(deps.feedbackAfterResolution, deps.outreach, caseId, r);
    await deps.outreach(
      {
        type: "respond",
        customerId: a.customerId,
        caseId,
        kind: "thanks_false_alarm",
        key: `${caseId}:thanks`,
      },
      `respond-thanks-${caseId}`,
    );
    return "false alarm";
  }
  return "ignored";
}

/** A YES or NO the customer gave in the bank's app, as its backend reported it. */
export interface AppAnswer {
  caseId: string;
  answer: "yes" | "no";
  /** The app's id for this answer (or the request's Idempotency-Key): the same answer is applied once. */
  answerId: string;
}

/** An answer from the app: on the conversation, then acted on exactly as a YES / NO text is. */
export async function handleAppAnswer(deps: ConversationDeps, a: AppAnswer): Promise<string> {
  const { sql } = deps;
  const [c] = await sql`select customer_id, status from cases where id = ${a.caseId}`;
  if (!c) return "case not found";
  const customerId = c.customer_id as string;
  // The app's answer ids are its own: unique per case, not across them.
  const ref = `app:${a.caseId}:${a.answerId}`;
  const text = a.answer.toUpperCase();
  await recordInbound(sql, {
    providerId: ref,
    caseId: a.caseId,
    customerId,
    body: text,
    from: "app",
    to: "touchpoint",
    kind: `reply.${a.answer}`,
    channel: "app",
    transport: "app",
  });
  await addTimeline(sql, a.caseId, "reply.received", `reply:${ref}`, {
    text,
    kind: a.answer,
    channel: "app",
  });
  if (c.status !== "open") {
    if (a.answer === "no")
      await addTimeline(sql, a.caseId, "advocate.alerted", `alert:${ref}:late`, {
        reason: "the customer answered NO in the app after the case was closed: read it, call them",
      });
    return "case closed";
  }
  return applyAnswer(deps, { caseId: a.caseId, customerId, answer: a.answer, ref, text, via: "the app" });
}

/**
 * Two replies raced (YES then NO, say) and the case was already resolved the other way: do not
 * flip it, do not act on it; tell the advocate, who will call.
 */
async function changedAnswer(
  deps: ConversationDeps,
  caseId: string,
  uuid: string,
  said: string,
  outcome: string,
): Promise<string> {
  await addTimeline(deps.sql, caseId, "advocate.alerted", `alert:${uuid}:changed`, {
    reason: `the customer answered ${said} after the case was settled as ${outcome}: call them to be sure`,
  });
  return "changed answer";
}

export async function handleReceipt(deps: ConversationDeps, r: Receipt): Promise<string> {
  const verdict = classifyReceipt({ status: r.status, ...(r.error ? { error: r.error } : {}) });
  const status = verdict.status === "read" ? "delivered" : verdict.status;
  const m = await applyReceipt(deps.sql, {
    providerId: r.messageUuid,
    ...(r.clientRef ? { clientRef: r.clientRef } : {}),
    status,
    ...(r.error ? { error: r.error } : {}),
  });
  if (!m) {
    deps.log.info(
      { messageUuid: r.messageUuid, status: r.status },
      "receipt for a message we do not know: ignored",
    );
    return "unknown message";
  }
  if (m.caseId) {
    await addTimeline(deps.sql, m.caseId, "message.status", `receipt:${r.messageUuid}:${r.status}`, {
      messageId: m.id,
      status,
      ...(verdict.next !== "none" ? { reason: verdict.reason } : {}),
    });
  }
  // A check whose send was uncertain (its worker died mid-call) is only now known to be out:
  // start waiting for the reply. The job id matches the one the send path uses, so never twice.
  if (
    (status === "submitted" || status === "delivered") &&
    m.caseId &&
    (m.kind === "fraud_check" || m.kind === "behaviour_check")
  ) {
    await deps.outreach(
      { type: "no-reply", caseId: m.caseId, askedAt: m.createdAt.toISOString(), stage: 1 },
      `noreply-${m.caseId}-1`,
      Math.max(0, m.createdAt.getTime() + deps.replyTimeoutMinutes * 60_000 - deps.now().getTime()),
    );
  }
  // The feedback question is a courtesy: not delivered, it is neither sent again nor a call.
  if (m.kind === FEEDBACK_KIND) return status;
  if (verdict.next === "retry") {
    // Resend at most twice, spaced out, each as a new text with its own key.
    const base = m.idemKey.replace(/~\d+$/, "");
    const attempt = Number(m.idemKey.match(/~(\d+)$/)?.[1] ?? 0) + 1;
    if (attempt <= 2) {
      await deps.outreach(
        { type: "resend", key: base, attempt },
        `resend-${base.replace(/:/g, "_")}-${attempt}`,
        attempt * 5 * 60_000,
      );
      return "retry scheduled";
    }
  }
  if (verdict.next !== "none" && m.caseId) {
    await addTimeline(deps.sql, m.caseId, "task.call_customer", `call:receipt:${m.id}`, {
      reason: `call the customer: the text could not be delivered (${verdict.reason})`,
    });
    return "call task";
  }
  return status;
}
