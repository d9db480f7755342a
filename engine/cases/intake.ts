/**
 * A customer's new decisions onto their one open case: opened (and routed) when there is none,
 * escalated when the new evidence is more severe. The engine decides here; the store reads and
 * writes, all in one transaction.
 */

import type { Severity } from "../rules/schema.ts";
import { insertOpenCase, lockOpenCase, recordCaseUpdate, setCaseSeverity } from "../store/cases.ts";
import type { Sql } from "../store/database.ts";
import { lockUnlinkedDecisions } from "../store/decisions.ts";
import type { TimelineEntry } from "../store/timeline.ts";
import type { OwedJob } from "../store/work.ts";
import { assignCase } from "./assign.ts";
import { maxSeverity, newCaseId } from "./cases.ts";

export interface CaseUpdate {
  caseId: string;
  created: boolean;
  linked: number;
  advocateId: string | null;
  severity: Severity;
  /** The case became more severe with this update (a reason to contact the customer sooner). */
  escalated: boolean;
  /** The case waits for the customer's previous advocate until then; reroute it at that time. */
  waitUntil: Date | null;
}

/**
 * Puts a customer's unlinked decisions on their open case, opening (and routing) one if there is
 * none. Safe to run twice and concurrently: the partial unique index allows one open case per
 * customer, and every timeline step has its idempotency key.
 *
 * `owing` names the work the update makes owed (the check text, the end of a wait); it is
 * recorded in the same transaction, so a case is never committed without it: should the job
 * that opened it then be lost with Redis, the reconciler still finds its text owed.
 */
export async function openOrJoinCase(
  sql: Sql,
  customerId: string,
  now: Date,
  owing: (update: CaseUpdate) => readonly OwedJob[] = () => [],
): Promise<CaseUpdate | undefined> {
  return sql.begin(async (tx) => {
    const decisions = await lockUnlinkedDecisions(tx, customerId);
    if (decisions.length === 0) return undefined;
    const first = decisions[0]!;
    const severity = decisions.reduce<Severity>((s, d) => maxSeverity(s, d.severity), "low");
    const top = decisions.find((d) => d.severity === severity) ?? first;

    const opened = await insertOpenCase(tx, {
      id: newCaseId(now),
      customerId,
      severity,
      team: top.team,
      title: top.title,
      openedAt: now,
      firstDecisionAt: first.decidedAt,
    });
    const created = opened !== undefined;
    // A case this transaction inserted is locked already; another is locked here.
    const kase = opened ?? (await lockOpenCase(tx, customerId))!;
    const caseId = kase.id;
    // The steps of this update, in the order they happen, written together at the end (one statement).
    const timeline: TimelineEntry[] = [];

    if (created) {
      timeline.push({
        caseId,
        kind: "case.opened",
        idemKey: `opened:${caseId}`,
        detail: { severity, title: top.title, team: top.team },
        at: now,
      });
    }
    const escalated = !created && maxSeverity(kase.severity, severity) !== kase.severity;
    if (escalated) {
      await setCaseSeverity(tx, caseId, severity);
      timeline.push({
        caseId,
        kind: "case.escalated",
        idemKey: `escalated:${caseId}:${severity}`,
        detail: { from: kase.severity, to: severity },
        at: now,
      });
    }
    for (const d of decisions) {
      timeline.push({
        caseId,
        kind: "evidence.added",
        idemKey: `decision:${d.id}`,
        detail: {
          decisionId: String(d.id),
          eventId: d.eventId,
          rule: d.rule,
          severity: d.severity,
          title: d.title,
        },
        at: now,
      });
    }

    let advocateId = kase.advocateId;
    let waitUntil: Date | null = null;
    if (escalated && !advocateId) {
      // More urgent now: a high case stops waiting for the customer's advocate; others wait less.
      const assigned = await assignCase(tx, caseId, now, "case escalated", { timeline });
      advocateId = assigned?.advocateId ?? null;
      waitUntil = assigned?.waitUntil ?? null;
    }
    if (opened) {
      const assigned = await assignCase(tx, caseId, now, "case opened", { opened, timeline });
      advocateId = assigned?.advocateId ?? null;
      waitUntil = assigned?.waitUntil ?? null;
    }
    const update: CaseUpdate = {
      caseId,
      created,
      escalated,
      waitUntil,
      linked: decisions.length,
      advocateId,
      severity: maxSeverity(kase.severity, severity),
    };
    // Linked last: nothing before reads the decisions' case (routing reads advocates and cases).
    await recordCaseUpdate(tx, {
      caseId,
      decisionIds: decisions.map((d) => d.id),
      timeline,
      owed: owing(update),
    });
    return update;
  });
}
