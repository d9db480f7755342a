/** The desk's words: events, facts, timeline steps and people, as an advocate reads them. */
import { eventLocation, type TouchpointEvent } from "../../engine/events.ts";
import { localClock, utcOffset, zoneAt } from "../../engine/features/places.ts";
import type { caseDetail } from "../../engine/store/case-views.ts";
import type { Principal } from "../../engine/store/tokens.ts";

export type Detail = Awaited<ReturnType<typeof caseDetail>>;

export const teamOf = (p: Principal) =>
  p.role === "advocate" || (p.role === "supervisor" && p.team) ? (p.team ?? undefined) : undefined;
/** Who is signed in, for the header: an advocate by name, anyone else by their token and role. */
export const whoOf = (p: Principal) =>
  `${p.advocateName ?? p.advocateId ?? p.tokenId} (${p.role}${p.team ? `, ${p.team}` : ""})`;

const day = (iso: string) =>
  new Date(iso).toLocaleDateString("en-GB", { day: "numeric", month: "short", timeZone: "UTC" });

/** An event as an advocate would say it: "Login from Phnom Penh, KH", "Travel notice: KH, 14 Nov – 30 Nov". */
export function describeEvent(e: TouchpointEvent): string {
  if (e.type === "card.transaction") {
    const where = [e.merchant.city, e.merchant.country].filter(Boolean).join(", ");
    return `${e.amount.value.toLocaleString("en-GB")} ${e.amount.currency} at ${e.merchant.name} (${where}), card ••${e.card.last4}, ${e.channel.replace("_", " ")}`;
  }
  const from = e.geo ? ` from ${[e.geo.city, e.geo.country].filter(Boolean).join(", ")}` : "";
  const device = e.device ? ` (device ${e.device.id})` : "";
  switch (e.type) {
    case "login":
      return `Login${from}${device}`;
    case "device.registered":
      return `New device registered${from}${device}`;
    case "password.reset":
      return `Password reset${from}`;
    case "payee.added":
      return `New payee${e.payee ? ` ${e.payee.name}${e.payee.country ? ` (${e.payee.country})` : ""}` : ""}${from}`;
    case "contact.changed":
      return `${e.field ? `${e.field[0]!.toUpperCase()}${e.field.slice(1)}` : "Contact details"} changed${from}`;
    case "travel.notice":
      return `Travel notice: ${e.travel.countries.join(", ")}, ${day(e.travel.from)} – ${day(e.travel.to)}`;
  }
}

export const STEP_LABEL: Record<string, string> = {
  "case.opened": "Case opened",
  "evidence.added": "Evidence",
  "case.escalated": "Escalated",
  "case.assigned": "Assigned",
  "case.unassigned": "Waiting for an advocate",
  "case.resolved": "Resolved",
  "case.confirmed": "Customer confirmed fraud",
  "note.added": "Note",
  "phone.revealed": "Number shown to call",
  "call.received": "Customer calling",
  "contact.decided": "Contact policy",
  "contact.step": "Contact strategy",
  "call.placed": "Automated call",
  "call.status": "Call",
  "call.keypad": "Keypad",
  "call.connected": "Put through",
  "message.written": "Text written",
  "message.sent": "Message sent",
  "message.failed": "Contact failed",
  "message.status": "Delivery",
  "reply.received": "Customer replied",
  "action.card_block": "Card block requested",
  "action.account_lock": "Account lock requested",
  "advocate.alerted": "Advocate alerted",
  "task.call_customer": "Task: call the customer",
  "call.logged": "Call:",
  "feedback.asked": "Feedback asked",
  "feedback.skipped": "Feedback not asked",
  "feedback.received": "Customer's feedback",
};

/** A timeline entry's detail in words; never raw JSON. */
export function stepText(kind: string, d: Record<string, unknown>): string {
  const words = (v: unknown) => String(v ?? "").replace(/_/g, " ");
  switch (kind) {
    case "case.opened":
      return `${d.title} (${d.severity})`;
    case "evidence.added":
      return `${d.title} — rule ${d.rule}, event ${d.eventId}`;
    case "case.escalated":
      return `from ${d.from} to ${d.to} severity`;
    case "case.assigned":
    case "case.unassigned":
      return `${d.advocateName ?? "nobody"}: ${d.reason}${d.note ? ` — “${d.note}”` : ""}`;
    case "case.resolved":
      return `${words(d.outcome)}${d.note ? ` — ${d.note}` : ""}`;
    case "call.logged":
      return `${words(d.outcome)}${d.note ? ` — ${d.note}` : ""}`;
    case "note.added":
    case "message.written":
      return String(d.text);
    case "message.status":
      return `${words(d.status)}${typeof d.reason === "string" ? ` — ${d.reason}` : ""}`;
    case "contact.step": {
      const step = typeof d.step === "number" ? `step ${d.step}` : "next step";
      const what = d.action === "skip" ? "skipped" : d.action === "next" ? "now" : `by ${words(d.action)}`;
      return `${step} (${words(d.do ?? "")}) ${what}: ${String(d.reason ?? "")}`.replace(/\(\) /, "");
    }
    case "contact.opted_out":
      return typeof d.reason === "string" ? d.reason : "the customer replied STOP: no more texts";
    default:
      if (typeof d.reason === "string") return d.reason;
      if (typeof d.text === "string") return d.text;
      // Whatever else an entry carries is for the API, not for reading: the label says it.
      return "";
  }
}

/** " · their 23:10 (UTC+7)": the clock where the event happened, with its offset so two read in order. */
export function TheirTime({ event }: { event: TouchpointEvent }) {
  const place = eventLocation(event);
  const zone = place ? zoneAt(place) : undefined;
  if (!zone) return null;
  const at = Date.parse(event.occurredAt);
  return <span class="their">{` · their ${localClock(at, zone).time} (${utcOffset(at, zone)})`}</span>;
}

/** What touchpoint's own texts are, by kind. */
export const KIND_WORDS: Record<string, string> = {
  fraud_check: "fraud check",
  behaviour_check: "check",
  reminder: "reminder",
  behaviour_reminder: "reminder",
  card_blocked: "card blocked",
  account_secured: "account secured",
  thanks_false_alarm: "thanks",
  opt_out_confirmation: "STOP confirmed",
  help: "help",
  feedback_question: "feedback question",
  check_call: "automated call",
};

/** Each channel's name on the conversation. */
export const CHANNEL_WORDS: Record<string, string> = {
  sms: "Text",
  whatsapp: "WhatsApp",
  voice: "Call",
  app: "App",
};

/**
 * One line of the conversation in words: who, on which channel, and what it was. A call says how
 * it went (answered, not answered, how long), a keypad answer which key.
 */
export function conversationLine(
  m: {
    direction: string;
    kind: string;
    channel?: string;
    author: { name: string } | null;
    status: string;
    details?: Record<string, unknown>;
  },
  customerName: string,
): string {
  const channel = CHANNEL_WORDS[m.channel ?? "sms"] ?? "Text";
  if (m.channel === "voice") {
    if (m.direction === "inbound")
      return m.kind === "call.inbound"
        ? `${channel} · ${customerName} called the bank`
        : `${channel} · ${customerName} pressed a key`;
    const seconds = typeof m.details?.durationSeconds === "number" ? m.details.durationSeconds : undefined;
    return `${channel} · touchpoint called (automated, keypad answers) · ${callStatusInWords(m.status)}${seconds !== undefined ? `, ${seconds} s` : ""}`;
  }
  if (m.direction === "inbound") return `${channel} · ${customerName} wrote`;
  if (m.author) return `${channel} · ${m.author.name} wrote`;
  return `${channel} · touchpoint sent (${KIND_WORDS[m.kind] ?? "message"})`;
}

const CALL_STATUS_WORDS: Record<string, string> = {
  pending: "about to call",
  sending: "calling",
  retrying: "trying again",
  submitted: "calling",
  started: "calling",
  ringing: "ringing",
  answered: "answered",
  human: "answered",
  machine: "answering machine: left the bank's number",
  completed: "ended",
  busy: "busy",
  unanswered: "not answered",
  timeout: "not answered",
  rejected: "rejected",
  cancelled: "cancelled",
  failed: "could not be placed",
  disconnected: "cut off",
};

function callStatusInWords(status: string): string {
  return CALL_STATUS_WORDS[status] ?? status.replace(/_/g, " ");
}

const STATUS_WORDS: Record<string, string> = {
  pending: "waiting to send",
  retrying: "trying again",
  sending: "sending",
  submitted: "sent",
  delivered: "delivered",
  not_sent: "not sent",
  failed: "failed",
  rejected: "rejected by the network",
  undeliverable: "could not be delivered",
  received: "received",
};

export function statusInWords(m: { status: string }): string {
  return STATUS_WORDS[m.status] ?? m.status.replace(/_/g, " ");
}

/** A case's state in words: "open", "resolved: confirmed fraud". */
export function stateInWords(i: { status: string; outcome: string | null }): string {
  const outcome = i.outcome?.replace(/_/g, " ");
  if (i.status === "open") return outcome ? `open, ${outcome} by the customer` : "open";
  return outcome ? `${i.status}: ${outcome}` : i.status;
}
