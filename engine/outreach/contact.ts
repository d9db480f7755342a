/**
 * Contacting the customer: the contact policy's decision on every proactive text, one text per
 * send decision (its key is the message row's unique key and Vonage's client_ref), reminders when
 * nobody answers, and a call task for the advocate when texting cannot work.
 */

import { PermanentError, RetryableError, ValidationError } from "../errors.ts";
import type { FaultPoint } from "../evaluate.ts";
import type { TouchpointEvent } from "../events.ts";
import { type Logger, maskPhone } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Severity } from "../rules/schema.ts";
import type { Sql } from "../store/database.ts";
import {
  type ContactCounts,
  claimOutbound,
  claimSending,
  contactCounts,
  contactHistory,
  getMessageByKey,
  lastInbound,
  type MessageRow,
  repliedSince,
  setOutboundStatus,
} from "../store/messages.ts";
import { type Customer, customerCols, getCustomer } from "../store/people.ts";
import { addTimeline, addTimelineEntries, type TimelineEntry } from "../store/timeline.ts";
import type { AppTransport } from "./channels/app.ts";
import type { VoiceTransport } from "./channels/voice.ts";
import { checkCallNcco, voiceText } from "./ncco.ts";
import { decideContact } from "./policy.ts";
import {
  type Capabilities,
  type Channel,
  type MessageChannel,
  planStep,
  replyChannel,
  type Strategy,
  WHATSAPP_WINDOW_MS,
} from "./strategy.ts";
import { type MessageKind, renderMessage, type TemplateVars, whatsappParameters } from "./templates.ts";

/** A WhatsApp template message: an approved template's name, its `{{n}}` values and its locale. */
export interface WhatsAppTemplateRef {
  name: string;
  parameters: string[];
  /** WhatsApp's locale code, e.g. `en_GB`, `fr`. */
  locale: string;
}

/** Where written messages go: Vonage's Messages API (SMS, WhatsApp), or the outbox when no credentials are configured. */
export interface MessageTransport {
  kind: "vonage" | "outbox";
  /** The Messages API channels it is configured for ("sms", and "whatsapp" with WHATSAPP_FROM). */
  channels: ReadonlySet<string>;
  /** Vonage accepts the message (returns its message_uuid) or throws RetryableError / PermanentError. */
  send(m: {
    channel?: "sms" | "whatsapp";
    to: string;
    text: string;
    clientRef: string;
    /** WhatsApp outside the customer's 24-hour window: the approved template instead of `text`. */
    template?: WhatsAppTemplateRef;
  }): Promise<{ messageUuid: string }>;
}
/** The SMS-only name it had before WhatsApp. */
export type SmsTransport = MessageTransport;

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
  /** No answer since `askedAt`: step `stage` (1, 2, …) of the case's contact strategy. */
  | { type: "no-reply"; caseId: string; askedAt: string; stage: number }
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

/** The Voice API, for the strategy's automated calls (engine/outreach/channels/voice.ts). */
export interface VoiceDeps {
  transport: VoiceTransport;
  /** The bank's number calls come from (E.164). */
  from: string;
  /** PUBLIC_URL: where Vonage reaches this service's voice webhooks. */
  publicUrl: string;
}

export interface ContactDeps {
  sql: Sql;
  /** The customer's latest located event (their clock for quiet hours), if any. */
  latestLocation(customerId: string): Promise<{ lat: number; lon: number; at: number } | undefined>;
  transport: MessageTransport;
  /** The contact strategy per severity (CONTACT_STRATEGY_FILE, or the shipped default). */
  strategy: Strategy;
  /** WhatsApp's approved templates, for a business-started message outside the 24-hour window. */
  whatsappTemplates?: { payment: string; behaviour: string };
  /** Automated calls; absent when the Voice API is not configured (the strategy skips them). */
  voice?: VoiceDeps;
  /** The bank's app (APP_WEBHOOK_URL); absent: no in-app questions. */
  app?: AppTransport;
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
  /** Set by the customer's answer (a NO keeps the case open for the advocate). */
  outcome: string | null;
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
  // One statement: it is on the path to the customer's text, and every round trip is waited for.
  // The evidence is the decisions' own copy of their events (kept past the events' retention).
  const [c] = await sql`
    select cu.*, c.id as case_id, c.status as case_status, c.outcome as case_outcome,
      c.severity as case_severity, c.title as case_title, c.opened_at as case_opened_at, a.name as advocate_name,
      -- The text describes the most severe evidence, the earliest of equals.
      (select d.event_payload from decisions d where d.case_id = c.id
        order by case d.severity when 'high' then 0 when 'medium' then 1 else 2 end, d.event_occurred_at limit 1) as payload,
      -- The card of the earliest evidence that names one (caseCards' first).
      (select d.event_payload->'card'->>'last4' from decisions d
        where d.case_id = c.id and d.event_payload->'card' is not null order by d.event_occurred_at limit 1) as card_last4
    from cases c join customers cu on cu.id = c.customer_id left join advocates a on a.id = c.advocate_id
    where c.id = ${caseId}`;
  if (!c?.payload) return undefined;
  return {
    cardLast4: (c.card_last4 as string | null) ?? null,
    openedAt: c.case_opened_at as Date,
    id: c.case_id,
    status: c.case_status,
    outcome: c.case_outcome,
    severity: c.case_severity,
    title: c.case_title,
    advocateName: c.advocate_name,
    customer: customerCols(c),
    event: c.payload as TouchpointEvent,
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
    /** Default: where the customer last wrote to us, else SMS (see `answerChannel`). */
    channel?: MessageChannel;
    /** A check or reminder on WhatsApp: what its approved template needs outside the 24-hour window. */
    whatsapp?: {
      subject: "payment" | "behaviour";
      vars: TemplateVars & { firstName: string };
      language: string;
    };
  },
): Promise<MessageRow> {
  const { sql, transport, log, metrics } = deps;
  const route = await routeMessage(deps, m);
  const viaApp = route.channel === "app";
  if (route.blocked) return refuse(deps, m, route.channel, route.blocked);
  const { message } = await claimOutbound(sql, {
    caseId: m.caseId,
    customerId: m.customer.id,
    kind: m.kind,
    body: m.body,
    to: viaApp ? `app:${m.customer.id}` : m.customer.phone,
    from: deps.from,
    transport: viaApp ? "app" : transport.kind,
    idemKey: m.key,
    channel: route.channel,
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

  /** The case's "message.sent" entry, written with the message's new status. */
  const sentEntry = (via: "outbox" | "vonage", reason: string): TimelineEntry[] =>
    m.caseId
      ? [
          {
            caseId: m.caseId,
            kind: "message.sent",
            idemKey: `sent:${m.key}`,
            detail: { messageId: message.id, kind: m.kind, transport: via, channel: route.channel, reason },
          },
        ]
      : [];
  if (transport.kind === "outbox" && !viaApp) {
    await setOutboundStatus(
      sql,
      message.id,
      "not_sent",
      {},
      sentEntry("outbox", "outbox: stored, not sent (no Vonage credentials configured)"),
    );
    log.warn(
      { messageId: message.id, kind: m.kind, to: maskPhone(m.customer.phone) },
      "OUTBOX: text stored, NOT SENT (no Vonage credentials)",
    );
    metrics.messagesSent.inc({ transport: "outbox", result: "not_sent" });
    return { ...message, status: "not_sent" };
  }

  if (!(await claimSending(sql, message.id))) {
    // Another worker claimed this send decision a moment ago: it sends, we do not.
    return (await getMessageByKey(sql, m.key)) ?? message;
  }
  let messageUuid: string;
  try {
    if (viaApp) {
      if (!deps.app)
        throw new PermanentError("the app channel is not configured (APP_WEBHOOK_URL)", "no_app");
      ({ messageUuid } = await deps.app.send({
        key: m.key,
        caseId: m.caseId,
        customerId: m.customer.id,
        kind: m.kind,
        text: m.body,
        // Only a check or a reminder asks; every other message informs.
        answers: route.asks ? ["yes", "no"] : [],
      }));
    } else {
      ({ messageUuid } = await transport.send({
        channel: route.channel === "whatsapp" ? "whatsapp" : "sms",
        to: m.customer.phone,
        text: m.body,
        clientRef: m.key,
        ...(route.template ? { template: route.template } : {}),
      }));
    }
  } catch (err) {
    if (err instanceof RetryableError && !m.finalAttempt) {
      await setOutboundStatus(sql, message.id, "retrying", { error: { message: err.message } });
      metrics.messagesSent.inc({ transport: "vonage", result: "retrying" });
      throw err;
    }
    const reason = err instanceof Error ? err.message : String(err);
    await setOutboundStatus(
      sql,
      message.id,
      "failed",
      {
        error: { message: reason, ...(err instanceof PermanentError && err.code ? { code: err.code } : {}) },
      },
      failedSteps(m, message.id, reason, `text could not be sent (${reason})`),
    );
    metrics.messagesSent.inc({ transport: "vonage", result: "failed" });
    log.warn({ messageId: message.id, err: reason }, "text failed for good");
    return { ...message, status: "failed" };
  }
  // Vonage has it. Recording that can fail (Postgres away) or be cut short (the process dies):
  // then the job's retry finds the message still `sending`, never resends it, and waits for
  // Vonage's receipt; it is never marked failed. The status and its timeline step in one
  // statement, so the desk never shows a text as sent whose message says otherwise, nor the
  // reverse.
  deps.fault?.("outreach.after-send");
  await setOutboundStatus(
    sql,
    message.id,
    "submitted",
    { providerId: messageUuid },
    sentEntry(
      "vonage",
      viaApp
        ? "sent to the customer's app"
        : `sent to ${maskPhone(m.customer.phone)} by ${route.channel}${route.template ? ` (template ${route.template.name}: outside WhatsApp's 24-hour window)` : ""}${route.note ? `; ${route.note}` : ""}`,
    ),
  );
  metrics.messagesSent.inc({ transport: "vonage", result: "submitted" });
  return { ...message, status: "submitted", providerId: messageUuid };
}

/** WhatsApp's locale codes for touchpoint's languages. */
/** A message that may not go (no channel left the customer accepts): recorded as failed, and a person calls. */
async function refuse(
  deps: ContactDeps,
  m: Parameters<typeof deliver>[1],
  channel: MessageChannel,
  reason: string,
): Promise<MessageRow> {
  const { message } = await claimOutbound(deps.sql, {
    caseId: m.caseId,
    customerId: m.customer.id,
    kind: m.kind,
    body: m.body,
    to: channel === "app" ? `app:${m.customer.id}` : m.customer.phone,
    from: deps.from,
    transport: channel === "app" ? "app" : deps.transport.kind,
    idemKey: m.key,
    channel,
  });
  if (message.status !== "pending" && message.status !== "retrying") return message;
  await setOutboundStatus(
    deps.sql,
    message.id,
    "failed",
    { error: { message: `not sent: ${reason}` } },
    failedSteps(m, message.id, `not sent: ${reason}`, reason),
  );
  return { ...message, status: "failed" };
}

/** The steps of a message that failed for good: the failure, then (unless a courtesy) the advocate's call task. */
function failedSteps(
  m: Parameters<typeof deliver>[1],
  messageId: string,
  reason: string,
  callReason: string,
): TimelineEntry[] {
  if (!m.caseId) return [];
  return [
    { caseId: m.caseId, kind: "message.failed", idemKey: `failed:${m.key}`, detail: { messageId, reason } },
    ...(m.callOnFailure !== false ? [callTaskEntry(m.caseId, callReason, `call:${m.key}`)] : []),
  ];
}

const WHATSAPP_LOCALES: Record<string, string> = { en: "en_GB", fr: "fr" };
const ASKING = new Set(["fraud_check", "behaviour_check", "reminder", "behaviour_reminder"]);

/**
 * Which channel a message goes on, and how. WhatsApp lets a business write freely only within 24
 * hours of the customer's last message; outside it a question goes as the approved template, and
 * anything else (an answer, an advocate's words) goes by SMS instead, saying so.
 */
export async function routeMessage(
  deps: ContactDeps,
  m: Parameters<typeof deliver>[1],
): Promise<{
  channel: MessageChannel;
  template?: WhatsAppTemplateRef;
  asks: boolean;
  note?: string;
  /** Why nothing may go: the only channel left is one the customer opted out of. */
  blocked?: string;
}> {
  const route = await chooseRoute(deps, m);
  const optedOut = m.kind === "opt_out_confirmation" ? new Set<Channel>() : optedOutChannels(m.customer);
  // Never a fallback to a channel they said STOP on (a WhatsApp question outside its window, an
  // answer to a customer who wrote last on a channel since closed).
  return optedOut.has(route.channel)
    ? {
        ...route,
        blocked: `the customer opted out of ${route.channel} and no other channel can take this ${m.kind.replace(/_/g, " ")}`,
      }
    : route;
}

async function chooseRoute(
  deps: ContactDeps,
  m: Parameters<typeof deliver>[1],
): Promise<{ channel: MessageChannel; template?: WhatsAppTemplateRef; asks: boolean; note?: string }> {
  const asks = ASKING.has(m.kind);
  // Read only when it matters: to choose the channel, or to know whether WhatsApp's window is open.
  const last = m.channel && m.channel !== "whatsapp" ? undefined : await lastInbound(deps.sql, m.customer.id);
  const now = deps.now();
  // The confirmation of a STOP goes where the STOP came from, and nothing else does.
  const optedOut = m.kind === "opt_out_confirmation" ? new Set<Channel>() : optedOutChannels(m.customer);
  const wanted: MessageChannel =
    m.channel ?? replyChannel({ last, optedOut, capabilities: capabilities(deps), now });
  if (wanted !== "whatsapp") return { channel: wanted, asks };
  const recent = last?.whatsappAt;
  if (recent && now.getTime() - recent.getTime() < WHATSAPP_WINDOW_MS) return { channel: "whatsapp", asks };
  if (m.whatsapp && deps.whatsappTemplates) {
    const { subject, vars, language } = m.whatsapp;
    return {
      channel: "whatsapp",
      asks,
      template: {
        name: deps.whatsappTemplates[subject],
        parameters: whatsappParameters(subject, language, vars),
        locale: WHATSAPP_LOCALES[language.slice(0, 2)] ?? "en_GB",
      },
    };
  }
  return {
    channel: "sms",
    asks,
    note: "by SMS: WhatsApp's 24-hour window is closed and this is no templated question",
  };
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
  await addTimelineEntries(deps.sql, [callTaskEntry(caseId, reason, key)]);
}

function callTaskEntry(caseId: string, reason: string, key: string): TimelineEntry {
  return {
    caseId,
    kind: "task.call_customer",
    idemKey: key,
    detail: { reason: `call the customer: ${reason}` },
  };
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
  opts: {
    /** Whether the channel at hand is one the customer opted out of (default: SMS's STOP). */
    optedOut?: boolean;
    /** Where the decision's timeline entry goes for the caller to write with the step it leads to; written here when absent. */
    timeline?: TimelineEntry[];
    /** The counts of `messageKey` at `now`, read already (contactHistory); read here when absent. */
    counts?: ContactCounts;
  } = {},
) {
  // A retry of a send that failed for a passing reason must not be capped by its own row.
  const [counts, location] = await Promise.all([
    opts.counts ?? contactCounts(deps.sql, ctx.customer.id, ctx.id, now, messageKey),
    deps.latestLocation(ctx.customer.id),
  ]);
  const decision = decideContact({
    now,
    severity,
    customer: {
      ...(ctx.customer.timezone ? { homeTimezone: ctx.customer.timezone } : {}),
      homeCountry: ctx.customer.homeCountry,
      optedOut: opts.optedOut ?? ctx.customer.optedOutAt !== null,
    },
    ...(location
      ? { currentLocation: { lat: location.lat, lon: location.lon, at: new Date(location.at) } }
      : {}),
    sentForIncident: counts.forIncident,
    sentToCustomerLast3Days: counts.last3Days,
    config: deps.policy,
  });
  deps.metrics.contactDecisions.inc({ action: decision.action });
  const entry: TimelineEntry = {
    caseId: ctx.id,
    kind: "contact.decided",
    idemKey,
    detail: {
      action: decision.action,
      reason: decision.reason,
      timezone: decision.timezone,
      localTime: decision.localTime,
      notBefore: decision.notBefore?.toISOString() ?? null,
    },
  };
  if (opts.timeline) opts.timeline.push(entry);
  else await addTimelineEntries(deps.sql, [entry]);
  return decision;
}

/** What this deployment can use besides SMS (the strategy skips what it cannot, saying why). */
export function capabilities(deps: ContactDeps): Capabilities {
  return {
    whatsapp: deps.transport.channels.has("whatsapp"),
    voice: Boolean(deps.voice),
    app: Boolean(deps.app),
  };
}

/** The channels a customer opted out of: STOP on SMS stops texts, STOP on WhatsApp stops WhatsApp. */
export function optedOutChannels(customer: Customer): Set<Channel> {
  const out = new Set<Channel>();
  if (customer.optedOutAt) out.add("sms");
  if (customer.whatsappOptedOutAt) out.add("whatsapp");
  return out;
}

/** The message key of step `index`: the first ask and the reminder keep the keys they always had. */
function stepKey(caseId: string, index: number, kind: "message" | "reminder"): string {
  if (index === 0) return `${caseId}:check`;
  return kind === "reminder" ? `${caseId}:reminder` : `${caseId}:ask${index}`;
}

/** The job of step `index` (≥ 1): its id is the one the no-reply jobs always had, so never queued twice. */
async function scheduleStep(
  deps: ContactDeps,
  ctx: CaseContext,
  index: number,
  askedAt: Date,
  delayMs?: number,
  suffix = "",
): Promise<void> {
  const step = deps.strategy[ctx.severity][index];
  if (!step) return;
  await deps.schedule(
    { type: "no-reply", caseId: ctx.id, askedAt: askedAt.toISOString(), stage: index },
    delayMs ?? step.afterMinutes * MINUTE,
    `noreply-${ctx.id}-${index}${suffix}`,
  );
}

/**
 * A step that did nothing records why and hands over to the next one: at once when nothing has
 * reached the customer yet (waiting would serve no one), else after the next step's own wait,
 * which gives the message already sent its time.
 */
async function skipStep(
  deps: ContactDeps,
  ctx: CaseContext,
  index: number,
  askedAt: Date,
  reason: string,
  atOnce: boolean,
  /** Steps that led here (the policy's decision), written first, in the same statement. */
  before: readonly TimelineEntry[] = [],
): Promise<string> {
  const step = deps.strategy[ctx.severity][index];
  await addTimelineEntries(deps.sql, [
    ...before,
    {
      caseId: ctx.id,
      kind: "contact.step",
      idemKey: `step:${ctx.id}:${index}:skip`,
      detail: { step: index + 1, do: step?.do, action: "skip", reason },
    },
  ]);
  if (atOnce) await scheduleStep(deps, ctx, index + 1, askedAt, 0, "-now");
  else await scheduleStep(deps, ctx, index + 1, askedAt);
  return reason;
}

/**
 * One step of the case's contact strategy (engine/outreach/strategy.ts): ask on the customer's
 * channel, remind, call, or hand a call task to the advocate, through the contact policy (quiet
 * hours, caps), each step and each skip on the timeline with its reason. Every effect has its own
 * key, so a retried or doubled job changes nothing the second time.
 */
async function runStep(
  deps: ContactDeps,
  ctx: CaseContext,
  index: number,
  askedAt: Date,
  jobId: string,
  finalAttempt: boolean,
  reschedule: (at: Date) => Promise<void>,
): Promise<string> {
  const { sql } = deps;
  const step = deps.strategy[ctx.severity][index];
  if (!step) return "strategy done";
  const now = deps.now();
  // A written step's send decision is counted against the caps in the same read as the history.
  const kind = step.do === "reminder" ? "reminder" : "message";
  const key = stepKey(ctx.id, index, kind);
  const history = await contactHistory(sql, ctx.id, { customerId: ctx.customer.id, now, excludeKey: key });
  const plan = planStep({
    step,
    channels: ctx.customer.channels,
    optedOut: optedOutChannels(ctx.customer),
    capabilities: capabilities(deps),
    history,
  });
  const nothingAsked = !history.askedOn && !history.called;
  if (plan.act === "skip") return skipStep(deps, ctx, index, askedAt, plan.reason, nothingAsked);
  if (plan.act === "task") {
    const waited = Math.round((deps.now().getTime() - askedAt.getTime()) / MINUTE);
    await callTask(
      deps,
      ctx.id,
      `no answer within ${waited} minutes of the first contact`,
      `call:noreply:${ctx.id}`,
    );
    return "call task";
  }

  if (plan.act === "voice") {
    if (ctx.event.type !== "card.transaction")
      return skipStep(
        deps,
        ctx,
        index,
        askedAt,
        "no automated call: its questions are about a payment, and this case is not",
        nothingAsked,
      );
    // No automated call in the customer's quiet hours, whatever the severity: it is judged as a
    // medium contact would be (a call at 3 a.m. is worse than a text), and the caps count it.
    const decided: TimelineEntry[] = [];
    const decision = await decide(
      deps,
      ctx,
      `policy:${ctx.id}:call:${jobId}`,
      now,
      `${ctx.id}:call`,
      "medium",
      { optedOut: false, timeline: decided },
    );
    if (decision.action !== "send")
      return skipStep(
        deps,
        ctx,
        index,
        askedAt,
        `no automated call: ${decision.reason}`,
        nothingAsked,
        decided,
      );
    await addTimelineEntries(sql, [
      ...decided,
      {
        caseId: ctx.id,
        kind: "contact.step",
        idemKey: `step:${ctx.id}:${index}`,
        detail: { step: index + 1, do: step.do, action: "voice", reason: plan.reason },
      },
    ]);
    const placed = await placeCheckCall(deps, ctx, finalAttempt, { stage: index + 1, askedAt });
    // Placed: the next step waits its time, or comes at once when the call goes unanswered.
    if (placed === "placed") await scheduleStep(deps, ctx, index + 1, askedAt);
    else await scheduleStep(deps, ctx, index + 1, askedAt, 0, "-now");
    return placed;
  }

  // A written question: the contact policy judges quiet hours and caps on its channel.
  // The policy's decision and the step it leads to go on the timeline together (one statement).
  const decided: TimelineEntry[] = [];
  const decision = await decide(deps, ctx, `policy:${key}:${jobId}`, now, key, ctx.severity, {
    optedOut: optedOutChannels(ctx.customer).has(plan.channel),
    timeline: decided,
    ...(history.counts ? { counts: history.counts } : {}),
  });
  if (decision.action === "suppress")
    return skipStep(deps, ctx, index, askedAt, decision.reason, nothingAsked, decided);
  if (decision.action === "defer") {
    await addTimelineEntries(sql, decided);
    await reschedule(decision.notBefore ?? new Date(now.getTime() + 60 * MINUTE));
    return decision.reason;
  }
  await addTimelineEntries(sql, [
    ...decided,
    {
      caseId: ctx.id,
      kind: "contact.step",
      idemKey: `step:${ctx.id}:${index}`,
      detail: { step: index + 1, do: step.do, action: plan.channel, reason: plan.reason },
    },
  ]);
  const payment = ctx.event.type === "card.transaction";
  const textKind: MessageKind =
    kind === "reminder"
      ? payment
        ? "reminder"
        : "behaviour_reminder"
      : payment
        ? "fraud_check"
        : "behaviour_check";
  const vars = templateVars(ctx, deps.bank);
  const text = await render(deps, ctx.id, textKind, ctx.customer.language, vars);
  if (text === undefined) return "could not write the text";
  const sent = await deliver(deps, {
    caseId: ctx.id,
    customer: ctx.customer,
    kind: textKind,
    body: text,
    key,
    finalAttempt,
    channel: plan.channel,
    ...(plan.channel === "whatsapp"
      ? { whatsapp: { subject: payment ? "payment" : "behaviour", vars, language: ctx.customer.language } }
      : {}),
  });
  // deliver() made the failure a call task for the advocate: a person takes it from here.
  if (sent.status === "failed") return `the ${plan.channel} message failed: a call task`;
  if (sent.status === "submitted" || sent.status === "not_sent") {
    if (index === 0)
      deps.metrics.timeToContact.observe(Math.max(0, (now.getTime() - ctx.openedAt.getTime()) / 1000));
    await scheduleStep(deps, ctx, index + 1, index === 0 ? now : askedAt);
  }
  return decision.reason;
}

/** Where Vonage posts a keypad answer: the case and the attempt ride in the query (the body carries only the call's ids). */
export function keypadUrl(publicUrl: string, caseId: string, attempt: 1 | 2, messageId: string): string {
  return `${publicUrl}/webhooks/vonage/voice/input?case=${encodeURIComponent(caseId)}&attempt=${attempt}&message=${encodeURIComponent(messageId)}`;
}

/**
 * The strategy's automated call: once per case (its key is the row's unique key), through the
 * same claim-then-call discipline as a text, so a retry never places a second call. The call's
 * states and its keypad answer come back through the voice webhooks. `stage` and `askedAt` ride
 * on the row, so a call that goes unanswered can hand over to the next step at once.
 */
async function placeCheckCall(
  deps: ContactDeps,
  ctx: CaseContext,
  finalAttempt: boolean,
  next: { stage: number; askedAt: Date },
): Promise<"placed" | "failed" | "already called"> {
  const voice = deps.voice;
  if (!voice) return "failed";
  const { sql, log } = deps;
  const key = `${ctx.id}:call`;
  const vars = templateVars(ctx, deps.bank);
  const language = ctx.customer.language;
  const { message } = await claimOutbound(sql, {
    caseId: ctx.id,
    customerId: ctx.customer.id,
    kind: "check_call",
    // What the call says, as the desk shows it.
    body: `${voiceText("check", language, vars)} ${voiceText("menu", language, vars)}`,
    to: ctx.customer.phone,
    from: voice.from,
    transport: "vonage",
    idemKey: key,
    channel: "voice",
  });
  if (message.status === "sending") {
    // A worker died while Vonage was being called: the call may be ringing. Never dialled again;
    // its events settle it, else the reconciler hands it to a person.
    await deps.schedule({ type: "reconcile", key }, RECONCILE_AFTER_MS, `reconcile-${message.id}`);
    return "already called";
  }
  if (message.status !== "pending" && message.status !== "retrying") return "already called";
  if (!(await claimSending(sql, message.id))) return "already called";
  // The call's row id rides in its URLs: its events and keypad answers can come before its uuid is recorded.
  const ncco = checkCallNcco({
    language,
    vars,
    inputUrl: keypadUrl(voice.publicUrl, ctx.id, 1, message.id),
    attempt: 1,
  });
  // Before the call, so its first events (which can come before its uuid is recorded) find it.
  await sql`
    update messages set details = coalesce(details, '{}'::jsonb) || ${sql.json({ stage: next.stage, askedAt: next.askedAt.toISOString() })}
    where id = ${message.id}`;
  try {
    const { uuid } = await voice.transport.call({
      to: ctx.customer.phone,
      from: voice.from,
      ncco,
      // The row's id rides in the event URL: the call's first events can come before its uuid is recorded.
      eventUrl: `${voice.publicUrl}/webhooks/vonage/voice/event?message=${message.id}`,
      machineDetection: true,
    });
    deps.fault?.("outreach.after-send");
    await setOutboundStatus(sql, message.id, "submitted", { providerId: uuid }, [
      {
        caseId: ctx.id,
        kind: "call.placed",
        idemKey: `called:${key}`,
        detail: {
          messageId: message.id,
          channel: "voice",
          reason: `automated call to ${maskPhone(ctx.customer.phone)}: 1 it was me, 2 it was not me, 0 someone`,
        },
      },
    ]);
    deps.metrics.messagesSent.inc({ transport: "voice", result: "submitted" });
    return "placed";
  } catch (err) {
    if (err instanceof RetryableError && !finalAttempt) {
      await setOutboundStatus(sql, message.id, "retrying", { error: { message: err.message } });
      throw err;
    }
    const reason = err instanceof Error ? err.message : String(err);
    await setOutboundStatus(
      sql,
      message.id,
      "failed",
      {
        error: { message: reason, ...(err instanceof PermanentError && err.code ? { code: err.code } : {}) },
      },
      [
        {
          caseId: ctx.id,
          kind: "message.failed",
          idemKey: `failed:${key}`,
          detail: {
            messageId: message.id,
            channel: "voice",
            reason: `the automated call could not be placed (${reason})`,
          },
        },
      ],
    );
    deps.metrics.messagesSent.inc({ transport: "voice", result: "failed" });
    log.warn({ messageId: message.id, err: reason }, "automated call failed");
    return "failed";
  }
}

/** The proactive check of a case ("did you make this payment?"): the first step of its strategy. */
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
  if (ctx.status !== "open" || ctx.outcome) return "case no longer open";
  // `sending` goes on to deliver(), which knows not to resend it and arranges its reconciliation.
  if (existing && !["pending", "retrying", "sending"].includes(existing.status)) {
    // Escalated after the first ask: the next step is the new severity's, timed from that ask
    // (a case that became high is called VOICE_AFTER_MINUTES after its first text, not later).
    if (job.why === "escalated") {
      const next = deps.strategy[ctx.severity][1];
      if (next)
        await scheduleStep(
          deps,
          ctx,
          1,
          existing.createdAt,
          Math.max(0, existing.createdAt.getTime() + next.afterMinutes * MINUTE - deps.now().getTime()),
          `-${ctx.severity}`,
        );
    }
    return "already contacted";
  }
  const now = deps.now();
  return runStep(deps, ctx, 0, now, jobId, finalAttempt, async (at) => {
    await deps.schedule(
      { type: "check", caseId: ctx.id, why: "deferred" },
      Math.max(0, at.getTime() - now.getTime()),
      `check-${ctx.id}-at-${at.getTime()}`,
    );
  });
}

/** No answer yet: the strategy's next step (a reminder, a call, the advocate's call task). */
export async function noReply(
  deps: ContactDeps,
  job: Extract<OutreachJob, { type: "no-reply" }>,
  jobId: string,
  finalAttempt: boolean,
): Promise<string> {
  const { sql } = deps;
  const ctx = await caseContext(sql, job.caseId);
  if (!ctx || ctx.status !== "open") return "case closed";
  // A NO keeps the case open for the advocate: the customer answered, nothing more to chase.
  if (ctx.outcome) return "customer answered";
  if (await repliedSince(sql, ctx.id, new Date(job.askedAt))) return "customer replied";
  const now = deps.now();
  return runStep(deps, ctx, job.stage, new Date(job.askedAt), jobId, finalAttempt, async (at) => {
    await deps.schedule(
      job,
      Math.max(0, at.getTime() - now.getTime()),
      `noreply-${ctx.id}-${job.stage}-at-${at.getTime()}`,
    );
  });
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
  const message = { caseId: job.caseId, customer, kind: job.kind, key: job.key, finalAttempt };
  // The channel is chosen once, here, and handed to `deliver`. After STOP only the one
  // confirmation goes out, on the channel the STOP came from: anything else routed to a channel
  // they opted out of is not written at all.
  const { channel, blocked } = await routeMessage(deps, { ...message, body: "" });
  if (blocked) return "opted out";
  const ctx = job.caseId ? await caseContext(sql, job.caseId) : undefined;
  const vars = templateVars(ctx ?? { customer, advocateName: null }, deps.bank);
  const text = await render(deps, job.caseId, job.kind, customer.language, vars);
  if (text === undefined) return "could not write the text";
  await deliver(deps, { ...message, body: text, channel });
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
  if (!customer) return "customer not found";
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
  if (original.channel === "voice") return "a call is not resent";
  if (optedOutChannels(customer).has(original.channel)) return "opted out";
  // A WhatsApp question goes again as the template it needs outside the 24-hour window.
  const ctx =
    original.channel === "whatsapp" && original.caseId && ASKING.has(original.kind)
      ? await caseContext(deps.sql, original.caseId)
      : undefined;
  await deliver(deps, {
    caseId: original.caseId,
    customer,
    kind: original.kind,
    body: original.body,
    key: `${job.key}~${job.attempt}`,
    finalAttempt,
    channel: original.channel,
    ...(ctx
      ? {
          whatsapp: {
            subject: ctx.event.type === "card.transaction" ? ("payment" as const) : ("behaviour" as const),
            vars: templateVars(ctx, deps.bank),
            language: ctx.customer.language,
          },
        }
      : {}),
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
      m.channel === "voice"
        ? "the automated call may not have been placed (no call state after a worker crash)"
        : "a text may not have gone out (no receipt after a worker crash)",
      `call:unknown:${m.id}`,
    );
  return "unknown";
}
