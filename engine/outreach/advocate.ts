/**
 * An advocate writing to the customer on a case: the text is checked (a bank's text never
 * carries a link, a card number or a phone number but the bank's), refused after STOP, stored at
 * once as pending (so the thread shows it with its delivery state), and handed to the outreach
 * queue as owed work; the worker sends it through the same path as touchpoint's own texts.
 */
import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import { ConflictError, UnprocessableError } from "../errors.ts";
import { isBlank } from "../events.ts";
import { cleanText } from "../input.ts";
import { isNumber, numbersWrittenIn, splitsOf, type WrittenNumber } from "../people.ts";
import type { Sql } from "../store/database.ts";
import {
  claimOutbound,
  getMessageByKey,
  lastInbound,
  type MessageRow,
  setOutboundStatus,
} from "../store/messages.ts";
import { getCustomer } from "../store/people.ts";
import { addTimeline } from "../store/timeline.ts";
import { type ContactDeps, deliver, type OutreachJob, optedOutChannels } from "./contact.ts";
import { replyChannel } from "./strategy.ts";

/** Longest text an advocate may send: four SMS segments of GSM-7. */
export const ADVOCATE_TEXT_MAX = 612;

// The shortest run of digits read as a phone number (a national number without its area code
// has seven); runs of this many or more are card numbers unless written with + or 00.
const PHONE_DIGITS_MIN = 7;
const CARD_DIGITS_MIN = 13;

/**
 * Why a text may not go as written; empty when it may. `bankPhone` is the bank's own number
 * (E.164), the only one a text may give, in any format (national ones read in its country). Any
 * other run of 7 or more digits is refused, however separated: a reference, an amount without
 * decimals or a date written run together must be written otherwise. Pure.
 */
export function advocateTextIssues(text: string, bankPhone: string): string[] {
  const issues: string[] = [];
  const t = text.trim();
  // Zero-width and filler characters survive trim(): a text of only those would arrive empty.
  if (isBlank(t)) issues.push("empty");
  if (t.length > ADVOCATE_TEXT_MAX)
    issues.push(`${t.length} characters; at most ${ADVOCATE_TEXT_MAX} (four text messages)`);
  // Customers are told the bank never sends links: one in a text teaches them to trust phishing.
  if (
    /\b(?:https?:\/\/|www\.)|\b[a-z0-9-]+\.(?:com|net|org|io|co|uk|fr|de|info|biz|app|link|ly)\b/i.test(
      t.normalize("NFKC"),
    )
  )
    issues.push("a link; the bank's texts never carry links (say where to look instead)");
  const others = new Set<string>();
  let card = false;
  for (const n of numbersWrittenIn(t)) {
    if (n.digits.length < PHONE_DIGITS_MIN || isNumber(n, bankPhone)) continue;
    const short = (m: WrittenNumber) => m.digits.length < PHONE_DIGITS_MIN;
    const bankBeside = splitsOf(n).some(
      ([a, b]) => (isNumber(a, bankPhone) && short(b)) || (short(a) && isNumber(b, bankPhone)),
    );
    if (bankBeside) continue;
    // A card number (13 to 19 digits, however grouped) never goes in a text; a phone number
    // is written with + or 00 when it is that long.
    if (!n.international && n.digits.length >= CARD_DIGITS_MIN) card = true;
    // Customers are told to call the bank on its own number only: another is how a thief gets called.
    else others.add(n.written);
  }
  if (card) issues.push("what looks like a card number; use the last four digits only");
  for (const n of others)
    issues.push(`a phone number (${n}) other than the bank's; give only the bank's own, ${bankPhone}`);
  return issues;
}

/** Stores the advocate's text as pending and queues it; refused (409) when the customer said STOP. */
export interface AdvocateTexting {
  sql: Sql;
  /** The bank's name and its own number, the only number a text may give. */
  bank: { name: string; phone: string };
  outreach: Queue;
  from: string;
  transport: "vonage" | "outbox";
  /** Records the job as owed work and queues it, `delayMs` from now (default 0). */
  owe: (job: OutreachJob, jobId: string, delayMs?: number) => Promise<void>;
  /** FEEDBACK_AFTER_RESOLUTION: a person's resolution also owes the customer's feedback question. */
  feedbackAfterResolution?: boolean;
  /** The channels configured besides SMS ("whatsapp", "app"): an answer can go where the customer wrote. */
  channels?: ReadonlySet<string>;
}

export async function writeToCustomer(
  deps: AdvocateTexting,
  m: { caseId: string; customerId: string; text: string; author: string; idempotencyKey?: string },
): Promise<{ message: MessageRow; created: boolean }> {
  const text = cleanText(m.text).trim();
  const issues = advocateTextIssues(text, deps.bank.phone);
  if (issues.length > 0)
    throw new UnprocessableError(
      "this text cannot be sent",
      issues.map((message) => ({ path: "text", message })),
    );
  const customer = await getCustomer(deps.sql, m.customerId);
  if (!customer) throw new ConflictError(`customer ${m.customerId} is not on file`);
  // The reply goes where the customer last wrote, when we can still write there (WhatsApp's
  // window, the app configured), else by SMS.
  const channel = replyChannel({
    last: await lastInbound(deps.sql, customer.id),
    optedOut: optedOutChannels(customer),
    capabilities: {
      whatsapp: Boolean(deps.channels?.has("whatsapp")),
      app: Boolean(deps.channels?.has("app")),
      voice: false,
    },
    now: new Date(),
  });
  if (channel === "sms" && customer.optedOutAt)
    throw new ConflictError(
      `the customer replied STOP on ${customer.optedOutAt.toISOString().slice(0, 10)}: no texts until they send START; call them instead`,
      { optedOutAt: customer.optedOutAt.toISOString() },
    );
  const key = `advocate:${m.caseId}:${m.idempotencyKey ?? randomUUID()}`;
  const stored = await claimOutbound(deps.sql, {
    caseId: m.caseId,
    customerId: customer.id,
    kind: "advocate",
    body: text,
    to: customer.phone,
    from: deps.from,
    transport: deps.transport,
    idemKey: key,
    author: m.author,
    channel,
  });
  // As Stripe does: a key names one request, so the same key with another text is refused, not
  // answered with the first text as if this one had been sent.
  if (!stored.created && stored.message.body !== text)
    throw new UnprocessableError("this Idempotency-Key was used for another text", [
      {
        path: "Idempotency-Key",
        message: "already used on this case for a different text; send a new text with a new key",
      },
    ]);
  if (stored.created) {
    await addTimeline(
      deps.sql,
      m.caseId,
      "message.written",
      `written:${key}`,
      { messageId: stored.message.id, text },
      { actor: m.author },
    );
  }
  // Queued again on a repeat too: owed work is keyed, so a lost first queueing is made good.
  await deps.owe({ type: "advocate", key }, `advocate-${stored.message.id}`);
  return stored;
}

/**
 * The outreach worker's half: sends a text stored as pending by a person's action (an advocate's
 * own words, a replacement card's notice), unless STOP came in the meantime.
 */
export async function sendAdvocateText(
  deps: ContactDeps,
  job: Extract<OutreachJob, { type: "advocate" }>,
  finalAttempt: boolean,
): Promise<string> {
  const message = await getMessageByKey(deps.sql, job.key);
  if (!message) return "no such text";
  if (!["pending", "retrying"].includes(message.status)) return `already ${message.status}`;
  const customer = message.customerId ? await getCustomer(deps.sql, message.customerId) : undefined;
  if (!customer) return "customer not found";
  if (message.channel === "voice") return "not a text";
  if (optedOutChannels(customer).has(message.channel)) {
    await setOutboundStatus(deps.sql, message.id, "failed", {
      error: { message: "the customer replied STOP before it was sent" },
    });
    if (message.caseId)
      await addTimeline(deps.sql, message.caseId, "message.failed", `failed:${job.key}`, {
        messageId: message.id,
        reason: "not sent: the customer replied STOP before it went",
      });
    return "opted out";
  }
  await deliver(deps, {
    caseId: message.caseId,
    customer,
    kind: message.kind,
    body: message.body,
    key: job.key,
    finalAttempt,
    channel: message.channel,
  });
  return "sent";
}
