/**
 * An advocate writing to the customer on a case: the text is checked (a bank's text never
 * carries a link, a card number or a phone number but the bank's), refused after STOP, stored at
 * once as pending (so the thread shows it with its delivery state), and handed to the outreach
 * queue as owed work; the worker sends it through the same path as touchpoint's own texts.
 */
import { randomUUID } from "node:crypto";
import type { Queue } from "bullmq";
import { parsePhoneNumberFromString } from "libphonenumber-js";
import { ConflictError, UnprocessableError } from "../errors.ts";
import { cleanText } from "../input.ts";
import { phoneNumbersIn } from "../people.ts";
import type { Sql } from "../store/database.ts";
import { claimOutbound, getMessageByKey, type MessageRow, setOutboundStatus } from "../store/messages.ts";
import { addTimeline, getCustomer } from "../store/postgres.ts";
import { type ContactDeps, deliver, type OutreachJob } from "./contact.ts";

/** Longest text an advocate may send: four SMS segments of GSM-7. */
export const ADVOCATE_TEXT_MAX = 612;

/**
 * Why a text may not go as written; empty when it may. `bankPhone` is the bank's own number, the
 * only one a text may give (national formats in it are read in that number's country). Pure.
 */
export function advocateTextIssues(text: string, bankPhone: string): string[] {
  const issues: string[] = [];
  const t = text.trim();
  if (t.length === 0) issues.push("empty");
  if (t.length > ADVOCATE_TEXT_MAX)
    issues.push(`${t.length} characters; at most ${ADVOCATE_TEXT_MAX} (four text messages)`);
  // Customers are told the bank never sends links: one in a text teaches them to trust phishing.
  if (/\b(?:https?:\/\/|www\.)|\b[a-z0-9-]+\.(?:com|net|org|io|co|uk|fr|de|info|biz|app|link|ly)\b/i.test(t))
    issues.push("a link; the bank's texts never carry links (say where to look instead)");
  // A card number (13 to 19 digits, spaces or dashes between groups allowed) never goes in a text.
  if (/(?:\d[ -]?){13,19}/.test(t))
    issues.push("what looks like a card number; use the last four digits only");
  // Customers are told to call the bank on its own number only: another one is how a thief gets called.
  const bank = parsePhoneNumberFromString(bankPhone);
  for (const n of phoneNumbersIn(t, bank?.country))
    if (n !== bank?.number)
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
  if (customer.optedOutAt)
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
  if (customer.optedOutAt) {
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
  });
  return "sent";
}
