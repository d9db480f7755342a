/**
 * Contacting the customer: the contact policy's decision on every proactive text, one text per
 * send decision (its key is the message row's unique key and Vonage's client_ref), reminders when
 * nobody answers, and a call task for the advocate when texting cannot work.
 */

import { PermanentError, RetryableError, ValidationError } from "../errors.ts";
import type { FaultPoint } from "../evaluate.ts";
import type { TouchpointEvent } from "../events.ts";
import type { CustomerState } from "../features/state.ts";
import { type Logger, maskPhone } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Severity } from "../rules/schema.ts";
import type { Sql } from "../store/database.ts";
import {
  claimOutbound,
  claimSending,
  contactCounts,
  getMessageByKey,
  type MessageRow,
  repliedSince,
  setOutboundStatus,
} from "../store/messages.ts";
import { addTimeline, type Customer, caseCards, getCustomer } from "../store/postgres.ts";
import { decideContact } from "./policy.ts";
import { type MessageKind, renderMessage, type TemplateVars } from "./templates.ts";

/** Where texts go: Vonage, or the outbox when no credentials are configured. */
export interface SmsTransport {
  kind: "vonage" | "outbox";
  /** Vonage accepts the text (returns its message_uuid) or throws RetryableError / PermanentError. */
  send(m: { to: string; text: string; clientRef: string }): Promise<{ messageUuid: string }>;
}

export interface ContactPolicyConfig {
  quietStartHour: number;
  quietEndHour: number;
  maxPerIncident: number;
  maxPer3Days: number;
  /** Minutes without a reply before the one reminder, and again before the call task. */
  replyTimeoutMinutes: number;
}

export type OutreachJob =
  | { type: "check"; caseId: string; why: "opened" | "escalated" | "deferred" }
  | { type: "no-reply"; caseId: string; askedAt: string; stage: 1 | 2 }
  | { type: "respond"; customerId: string; caseId: string | null; kind: ResponseKind; key: string }
  | { type: "resend"; key: string; attempt: number }
  | { type: "reconcile"; key: string }
  /** A text an advocate wrote on a case, stored as pending: send it (engine/outreach/advocate.ts). */
  | { type: "advocate"; key: string }
  /** A case resolved: ask its customer the one feedback question (engine/outreach/feedback.ts). */
  | { type: "feedback"; caseId: string; advocateId: string | null; team: string; resolvedAt: string };

export type ResponseKind =
  | "card_blocked"
  | "account_secured"
  | "thanks_false_alarm"
  | "opt_out_confirmation"
  | "help";

export interface ContactDeps {
  sql: Sql;
  state: CustomerState;
  transport: SmsTransport;
  from: string;
  bank: { name: string; phone: string };
  policy: ContactPolicyConfig;
  /** The question after resolution (FEEDBACK_AFTER_RESOLUTION, FEEDBACK_PERIOD_DAYS); absent: off. */
  feedback?: { enabled: boolean; periodDays: number };
  log: Logger;
  metrics: Metrics;
  /** Puts a job on the outreach queue, `delayMs` from now, deduplicated by `jobId`. */
  schedule(job: OutreachJob, delayMs: number, jobId: string): Promise<void>;
  now(): Date;
  /** Test-only crash point (see FaultPoint). */
  fault?: FaultPoint;
}

const MINUTE = 60_000;
/** How long a text stuck in `sending` (its worker died mid-call) waits for Vonage's receipt. */
const RECONCILE_AFTER_MS = 15 * MINUTE;

export interface CaseContext {
  id: string;
  status: string;
  severity: Severity;
  advocateName: string | null;
  customer: Customer;
  event: TouchpointEvent;
  title: string;
  /** The last four digits of a card in the case's evidence, if any. */
  cardLast4: string | null;
  openedAt: Date;
}

export async function caseContext(sql: Sql, caseId: string): Promise<CaseContext | undefined> {
  // Side by side, not one after another: each round trip is on the path to the customer's text.
  const [[c], [d], [card]] = await Promise.all([
    sql`
      select c.id, c.status, c.severity, c.title, c.customer_id, c.opened_at, a.name as advocate_name
      from cases c left join advocates a on a.id = c.advocate_id where c.id = ${caseId}`,
    // The text describes the most severe evidence, the earliest of equals.
    sql`
      select e.payload from decisions d join events e on e.id = d.event_id where d.case_id = ${caseId}
      order by case d.severity when 'high' then 0 when 'medium' then 1 else 2 end, e.occurred_at limit 1`,
    caseCards(sql, caseId),
  ]);
  if (!c || !d) return undefined;
  const customer = await getCustomer(sql, c.customer_id);
  if (!customer) return undefined;
  return {
    cardLast4: card?.last4 ?? null,
    openedAt: c.opened_at as Date,
    id: c.id,
    status: c.status,
    severity: c.severity,
    title: c.title,
    advocateName: c.advocate_name,
    customer,
    event: d.payload as TouchpointEvent,
  };
}

/** The variables every template may use; only the card's last four digits ever reach a text. */
export function templateVars(
  ctx: {
    customer: Customer;
    advocateName: string | null;
    event?: TouchpointEvent;
    cardLast4?: string | null;
  },
  bank: ContactDeps["bank"],
) {
  const e = ctx.event;
  const tx = e?.type === "card.transaction" ? e : undefined;
  return {
    firstName: ctx.customer.name.split(/\s+/)[0] ?? ctx.customer.name,
    advocateName: ctx.advocateName ?? `the ${bank.name} fraud team`,
    bankName: bank.name,
    bankPhone: bank.phone,
    merchant: tx?.merchant.name ?? "",
    city: tx?.merchant.city ?? tx?.merchant.country ?? "",
    amount: tx ? tx.amount.value : 0,
    currency: tx?.amount.currency ?? "",
    last4: tx?.card.last4 ?? ctx.cardLast4 ?? "",
    action: e && e.type !== "card.transaction" ? e.type : "",
  };
}

/**
 * Sends (once) the text of one send decision. A row already past `pending`/`retrying` means this
 * decision was acted on: nothing is sent again. A row left in `sending` means a worker died during
 * the call to Vonage: the text may be out, so it is never resent blindly; the receipt (which
 * carries our client_ref) or a reconcile job settles it.
 */
export async function deliver(
  deps: ContactDeps,
  m: {
    caseId: string | null;
    customer: Customer;
    kind: string;
    body: string;
    key: string;
    finalAttempt: boolean;
    /** A text that fails for good makes a call task (default); a courtesy (the feedback question) does not. */
    callOnFailure?: boolean;
  },
): Promise<MessageRow> {
  const { sql, transport, log, metrics } = deps;
  const { message } = await claimOutbound(sql, {
    caseId: m.caseId,
    customerId: m.customer.id,
    kind: m.kind,
    body: m.body,
    to: m.customer.phone,
    from: deps.from,
    transport: transport.kind,
    idemKey: m.key,
  });
  if (message.status === "sending") {
    await deps.schedule({ type: "reconcile", key: m.key }, RECONCILE_AFTER_MS, `reconcile-${message.id}`);
    if (m.caseId) {
      await addTimeline(sql, m.caseId, "message.status", `uncertain:${m.key}`, {
        messageId: message.id,
        status: "unknown",
        reason: "a worker stopped while Vonage was being called; not resending, waiting for its receipt",
      });
    }
    return message;
  }
  if (message.status !== "pending" && message.status !== "retrying") return message;

  if (transport.kind === "outbox") {
    await setOutboundStatus(sql, message.id, "not_sent");
    log.warn(
      { messageId: message.id, kind: m.kind, to: maskPhone(m.customer.phone) },
      "OUTBOX: text stored, NOT SENT (no Vonage credentials)",
    );
    metrics.messagesSent.inc({ transport: "outbox", result: "not_sent" });
    if (m.caseId) {
      await addTimeline(sql, m.caseId, "message.sent", `sent:${m.key}`, {
        messageId: message.id,
        kind: m.kind,
        transport: "outbox",
        reason: "outbox: stored, not sent (no Vonage credentials configured)",
      });
    }
    return { ...message, status: "not_sent" };
  }

  if (!(await claimSending(sql, message.id))) {
    // Another worker claimed this send decision a moment ago: it sends, we do not.
    return (await getMessageByKey(sql, m.key)) ?? message;
  }
  let messageUuid: string;
  try {
    ({ messageUuid } = await transport.send({ to: m.customer.phone, text: m.body, clientRef: m.key }));
  } catch (err) {
    if (err instanceof RetryableError && !m.finalAttempt) {
      await setOutboundStatus(sql, message.id, "retrying", { error: { message: err.message } });
      metrics.messagesSent.inc({ transport: "vonage", result: "retrying" });
      throw err;
    }
    const reason = err instanceof Error ? err.message : String(err);
    await setOutboundStatus(sql, message.id, "failed", {
      error: { message: reason, ...(err instanceof PermanentError && err.code ? { code: err.code } : {}) },
    });
    metrics.messagesSent.inc({ transport: "vonage", result: "failed" });
    log.warn({ messageId: message.id, err: reason }, "text failed for good");
    if (m.caseId) {
      await addTimeline(sql, m.caseId, "message.failed", `failed:${m.key}`, {
        messageId: message.id,
        reason,
      });
      if (m.callOnFailure !== false)
        await callTask(deps, m.caseId, `text could not be sent (${reason})`, `call:${m.key}`);
    }
    return { ...message, status: "failed" };
  }
  // Vonage has it. Recording that can fail (Postgres away) or be cut short (the process dies):
  // then the job's retry finds the message still `sending`, never resends it, and waits for
  // Vonage's receipt; it is never marked failed. The status first, so the desk never shows a
  // text as sent whose message says otherwise.
  deps.fault?.("outreach.after-send");
  await setOutboundStatus(sql, message.id, "submitted", { providerId: messageUuid });
  metrics.messagesSent.inc({ transport: "vonage", result: "submitted" });
  if (m.caseId) {
    await addTimeline(sql, m.caseId, "message.sent", `sent:${m.key}`, {
      messageId: message.id,
      kind: m.kind,
      transport: "vonage",
      reason: `sent to ${maskPhone(m.customer.phone)}`,
    });
  }
  return { ...message, status: "submitted", providerId: messageUuid };
}

/**
 * Renders a text; a template that cannot be filled (a variable missing for this case) is a
 * problem no retry fixes, so it becomes a call task rather than a job failing eight times.
 */
export async function render(
  deps: ContactDeps,
  caseId: string | null,
  kind: MessageKind,
  language: string,
  vars: TemplateVars,
): Promise<string | undefined> {
  try {
    return renderMessage(kind, language, vars).text;
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    deps.log.error({ kind, caseId, err: err.message }, "could not render a text");
    if (caseId)
      await callTask(
        deps,
        caseId,
        `the ${kind} text could not be written (${err.message})`,
        `call:render:${caseId}:${kind}`,
      );
    return undefined;
  }
}

async function callTask(deps: ContactDeps, caseId: string, reason: string, key: string): Promise<void> {
  await addTimeline(deps.sql, caseId, "task.call_customer", key, { reason: `call the customer: ${reason}` });
}

/**
 * Asks the contact policy about one proactive text and records its decision on the timeline;
 * `severity` is the case's unless given (the feedback question waits like a low one).
 */
export async function decide(
  deps: ContactDeps,
  ctx: CaseContext,
  idemKey: string,
  now: Date,
  messageKey: string,
  severity: Severity = ctx.severity,
) {
  // A retry of a send that failed for a passing reason must not be capped by its own row.
  const [counts, location] = await Promise.all([
    contactCounts(deps.sql, ctx.customer.id, ctx.id, now, messageKey),
    deps.state.latestLocation(ctx.customer.id),
  ]);
  const decision = decideContact({
    now,
    severity,
    customer: {
      ...(ctx.customer.timezone ? { homeTimezone: ctx.customer.timezone } : {}),
      homeCountry: ctx.customer.homeCountry,
      optedOut: ctx.customer.optedOutAt !== null,
    },
    ...(location
      ? { currentLocation: { lat: location.lat, lon: location.lon, at: new Date(location.at) } }
      : {}),
    sentForIncident: counts.forIncident,
    sentToCustomerLast3Days: counts.last3Days,
    config: deps.policy,
  });
  deps.metrics.contactDecisions.inc({ action: decision.action });
  await addTimeline(deps.sql, ctx.id, "contact.decided", idemKey, {
    action: decision.action,
    reason: decision.reason,
    timezone: decision.timezone,
    localTime: decision.localTime,
    notBefore: decision.notBefore?.toISOString() ?? null,
  });
  return decision;
}

/** The proactive check of a case ("did you make this payment?"), through the contact policy. */
export async function checkCase(
  deps: ContactDeps,
  job: Extract<OutreachJob, { type: "check" }>,
  jobId: string,
  finalAttempt: boolean,
): Promise<string> {
  const { sql } = deps;
  const key = `${job.caseId}:check`;
  // Read together: a case already contacted (a retry) wastes the context, which is rare.
  const [existing, ctx] = await Promise.all([getMessageByKey(sql, key), caseContext(sql, job.caseId)]);
  // `sending` goes on to deliver(), which knows not to resend it and arranges its reconciliation.
  if (existing && !["pending", "retrying", "sending"].includes(existing.status)) return "already contacted";
  if (!ctx) {
    const [c] = await sql`select customer_id from cases where id = ${job.caseId}`;
    if (!c) return "case not found";
    // Events can name a customer touchpoint has no profile for: no number to text.
    await callTask(
      deps,
      job.caseId,
      `no customer profile for ${c.customer_id}, so no number to text`,
      `call:noprofile:${job.caseId}`,
    );
    return "no customer profile";
  }
  if (ctx.status !== "open") return "case no longer open";

  const now = deps.now();
  const decision = await decide(deps, ctx, `policy:${key}:${jobId}`, now, key);
  if (decision.action === "suppress") {
    if (ctx.customer.optedOutAt)
      await callTask(deps, ctx.id, "the customer has opted out of texts", `call:optout:${ctx.id}`);
    return decision.reason;
  }
  if (decision.action === "defer") {
    const at = decision.notBefore ?? new Date(now.getTime() + 60 * MINUTE);
    await deps.schedule(
      { type: "check", caseId: ctx.id, why: "deferred" },
      Math.max(0, at.getTime() - now.getTime()),
      `check-${ctx.id}-at-${at.getTime()}`,
    );
    return decision.reason;
  }

  const kind = ctx.event.type === "card.transaction" ? "fraud_check" : "behaviour_check";
  const text = await render(deps, ctx.id, kind, ctx.customer.language, templateVars(ctx, deps.bank));
  if (text === undefined) return "could not write the text";
  const sent = await deliver(deps, {
    caseId: ctx.id,
    customer: ctx.customer,
    kind,
    body: text,
    key,
    finalAttempt,
  });
  if (sent.status === "submitted" || sent.status === "not_sent") {
    deps.metrics.timeToContact.observe(Math.max(0, (now.getTime() - ctx.openedAt.getTime()) / 1000));
    await deps.schedule(
      { type: "no-reply", caseId: ctx.id, askedAt: now.toISOString(), stage: 1 },
      deps.policy.replyTimeoutMinutes * MINUTE,
      `noreply-${ctx.id}-1`,
    );
  }
  return decision.reason;
}

/** No answer to the check: one reminder (through the policy's caps), then a call task. */
export async function noReply(
  deps: ContactDeps,
  job: Extract<OutreachJob, { type: "no-reply" }>,
  jobId: string,
  finalAttempt: boolean,
): Promise<string> {
  const { sql } = deps;
  const ctx = await caseContext(sql, job.caseId);
  if (!ctx || ctx.status !== "open") return "case closed";
  if (await repliedSince(sql, ctx.id, new Date(job.askedAt))) return "customer replied";
  if (job.stage === 2 || ctx.customer.optedOutAt) {
    await callTask(
      deps,
      ctx.id,
      `no reply to the text within ${deps.policy.replyTimeoutMinutes * job.stage} minutes`,
      `call:noreply:${ctx.id}`,
    );
    return "call task";
  }
  // A reminder is a proactive text like the first: same quiet hours, same caps, same record.
  const now = deps.now();
  const decision = await decide(deps, ctx, `policy:${ctx.id}:reminder:${jobId}`, now, `${ctx.id}:reminder`);
  if (decision.action === "suppress") {
    await callTask(
      deps,
      ctx.id,
      `no reply, and no reminder may be sent (${decision.reason})`,
      `call:noreply:${ctx.id}`,
    );
    return decision.reason;
  }
  if (decision.action === "defer") {
    const at = decision.notBefore ?? new Date(now.getTime() + 60 * MINUTE);
    await deps.schedule(
      job,
      Math.max(0, at.getTime() - now.getTime()),
      `noreply-${ctx.id}-1-at-${at.getTime()}`,
    );
    return decision.reason;
  }
  const kind = ctx.event.type === "card.transaction" ? "reminder" : "behaviour_reminder";
  const text = await render(deps, ctx.id, kind, ctx.customer.language, templateVars(ctx, deps.bank));
  if (text === undefined) return "could not write the text";
  await deliver(deps, {
    caseId: ctx.id,
    customer: ctx.customer,
    kind,
    body: text,
    key: `${ctx.id}:reminder`,
    finalAttempt,
  });
  await deps.schedule(
    { type: "no-reply", caseId: ctx.id, askedAt: job.askedAt, stage: 2 },
    deps.policy.replyTimeoutMinutes * MINUTE,
    `noreply-${ctx.id}-2`,
  );
  return "reminded";
}

/** A text answering the customer (card blocked, thanks, help, opt-out confirmation): no quiet hours. */
export async function respond(
  deps: ContactDeps,
  job: Extract<OutreachJob, { type: "respond" }>,
  finalAttempt: boolean,
): Promise<string> {
  const { sql } = deps;
  const customer = await getCustomer(sql, job.customerId);
  if (!customer) return "customer not found";
  // After STOP only the one confirmation goes out.
  if (customer.optedOutAt && job.kind !== "opt_out_confirmation") return "opted out";
  const ctx = job.caseId ? await caseContext(sql, job.caseId) : undefined;
  const vars = templateVars(ctx ?? { customer, advocateName: null }, deps.bank);
  const text = await render(deps, job.caseId, job.kind, customer.language, vars);
  if (text === undefined) return "could not write the text";
  await deliver(deps, {
    caseId: job.caseId,
    customer,
    kind: job.kind,
    body: text,
    key: job.key,
    finalAttempt,
  });
  return "sent";
}

/** A text that failed for a passing reason on the handset's side: send it again, as a new text. */
export async function resend(
  deps: ContactDeps,
  job: Extract<OutreachJob, { type: "resend" }>,
  finalAttempt: boolean,
): Promise<string> {
  const original = await getMessageByKey(deps.sql, job.key);
  if (!original?.customerId) return "original not found";
  const customer = await getCustomer(deps.sql, original.customerId);
  if (!customer || customer.optedOutAt) return "opted out";
  if (
    original.caseId &&
    (original.kind === "fraud_check" ||
      original.kind === "behaviour_check" ||
      original.kind.endsWith("reminder"))
  ) {
    // A question whose answer is already in (or whose case an advocate closed) is not asked again.
    const [c] = await deps.sql`select status, outcome from cases where id = ${original.caseId}`;
    if (!c || c.status !== "open" || c.outcome) return "case settled";
  }
  await deliver(deps, {
    caseId: original.caseId,
    customer,
    kind: original.kind,
    body: original.body,
    key: `${job.key}~${job.attempt}`,
    finalAttempt,
  });
  return "resent";
}

/** A text stuck in `sending` after a crash, with no receipt since: its fate is unknown, so call. */
export async function reconcile(
  deps: ContactDeps,
  job: Extract<OutreachJob, { type: "reconcile" }>,
): Promise<string> {
  const m = await getMessageByKey(deps.sql, job.key);
  if (!m || m.status !== "sending") return "settled";
  await setOutboundStatus(deps.sql, m.id, "unknown");
  if (m.caseId)
    await callTask(
      deps,
      m.caseId,
      "a text may not have gone out (no receipt after a worker crash)",
      `call:unknown:${m.id}`,
    );
  return "unknown";
}
