/** The case state machine: which transitions exist and what they record. Pure. */
import type { Severity } from "../rules/schema.ts";

export type CaseStatus = "open" | "resolved";
export type CaseOutcome = "confirmed_fraud" | "false_alarm";

const severityRank: Record<Severity, number> = { low: 0, medium: 1, high: 2 };

/** The higher of two severities: a case is as urgent as its most urgent evidence. */
export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank[a] >= severityRank[b] ? a : b;
}

/** Timeline entry kinds, oldest first on a case. */
export type TimelineKind =
  | "case.opened"
  | "evidence.added"
  | "case.escalated"
  | "case.assigned"
  | "case.unassigned"
  | "case.resolved"
  | "case.confirmed"
  | "note.added"
  | "phone.revealed"
  | "call.received"
  | "contact.decided"
  | "contact.step"
  | "call.placed"
  | "call.status"
  | "call.keypad"
  | "call.connected"
  | "message.written"
  | "message.sent"
  | "message.status"
  | "message.failed"
  | "contact.opted_out"
  | "reply.received"
  | "action.card_block"
  | "action.card_replace"
  | "action.account_lock"
  | "advocate.alerted"
  | "task.call_customer"
  | "call.logged"
  | "feedback.asked"
  | "feedback.skipped"
  | "feedback.received";

/** New case ids: sortable by time, unguessable enough for a URL. */
export function newCaseId(now: Date, random: () => number = Math.random): string {
  const r = Math.floor(random() * 36 ** 6)
    .toString(36)
    .padStart(6, "0");
  return `case-${now.getTime().toString(36)}-${r}`;
}
