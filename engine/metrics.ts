/** Prometheus metrics, one registry per running touchpoint (tests start several in one process). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ExperienceReport } from "./experience/report.ts";

export function createMetrics(opts: { defaults?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaults) collectDefaultMetrics({ register: registry, prefix: "touchpoint_" });
  const m = {
    registry,
    eventsIngested: new Counter({
      name: "touchpoint_events_ingested_total",
      help: "Events accepted for evaluation.",
      registers: [registry],
    }),
    eventsDuplicate: new Counter({
      name: "touchpoint_events_duplicate_total",
      help: "Events dropped as already seen (by id).",
      registers: [registry],
    }),
    eventsRejected: new Counter({
      name: "touchpoint_events_rejected_total",
      help: "Events that failed validation.",
      registers: [registry],
    }),
    eventsFailed: new Counter({
      name: "touchpoint_events_failed_total",
      help: "Events set aside because their features or facts could not be computed (see events.error).",
      registers: [registry],
    }),
    eventsDeprioritised: new Counter({
      name: "touchpoint_events_deprioritised_total",
      help: "Events of customers over INGEST_HEAVY_PER_MINUTE, queued behind everyone else's.",
      registers: [registry],
    }),
    eventsEvaluated: new Counter({
      name: "touchpoint_events_evaluated_total",
      help: "Events run through the published ruleset.",
      registers: [registry],
    }),
    stateLoads: new Counter({
      name: "touchpoint_state_loads_total",
      help: "Customers whose state was loaded from Postgres into a worker's memory (first seen there, evicted, or their partition taken over).",
      registers: [registry],
    }),
    partitionsHeld: new Gauge({
      name: "touchpoint_partitions_held",
      help: "Evaluation partitions this process holds.",
      registers: [registry],
    }),
    recordsPerWrite: new Histogram({
      name: "touchpoint_evaluation_records_per_write",
      help: "Partitions' evaluation records written in one statement (one commit): more than one when partitions finish together.",
      buckets: [1, 2, 4, 8, 16, 32],
      registers: [registry],
    }),
    roundsPerRead: new Histogram({
      name: "touchpoint_evaluation_rounds_per_read",
      help: "Partitions' evaluation rounds answered by one read statement, by read: more than one when rounds come together.",
      labelNames: ["read"] as const,
      buckets: [1, 2, 4, 8, 16, 32],
      registers: [registry],
    }),
    stateCustomers: new Gauge({
      name: "touchpoint_state_customers",
      help: "Customers whose state this process holds in memory.",
      registers: [registry],
    }),
    ruleHits: new Counter({
      name: "touchpoint_rule_hits_total",
      help: "Decisions stored, per rule.",
      labelNames: ["rule"] as const,
      registers: [registry],
    }),
    ruleErrors: new Counter({
      name: "touchpoint_rule_errors_total",
      help: "Rules that threw at run time, per rule.",
      labelNames: ["rule"] as const,
      registers: [registry],
    }),
    casesOpened: new Counter({
      name: "touchpoint_cases_opened_total",
      help: "Cases opened.",
      registers: [registry],
    }),
    casesJoined: new Counter({
      name: "touchpoint_cases_joined_total",
      help: "Hits that joined an open case.",
      registers: [registry],
    }),
    ingestToDecision: new Histogram({
      name: "touchpoint_ingest_to_decision_seconds",
      help: "From the API accepting an event to its decisions being stored.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    messagesSent: new Counter({
      name: "touchpoint_messages_total",
      help: "Outbound texts, by transport and result.",
      labelNames: ["transport", "result"] as const,
      registers: [registry],
    }),
    repliesReceived: new Counter({
      name: "touchpoint_replies_total",
      help: "Inbound texts, by parsed kind.",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    contactDecisions: new Counter({
      name: "touchpoint_contact_decisions_total",
      help: "Contact policy decisions on proactive texts, by action.",
      labelNames: ["action"] as const,
      registers: [registry],
    }),
    timeToContact: new Histogram({
      name: "touchpoint_time_to_contact_seconds",
      help: "From a case opening to its first text going out (or into the outbox).",
      buckets: [1, 5, 15, 30, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600],
      registers: [registry],
    }),
    timeToResolve: new Histogram({
      name: "touchpoint_time_to_resolve_seconds",
      help: "From a case opening to its resolution, by outcome and by whom (customer reply or advocate).",
      labelNames: ["outcome", "by"] as const,
      buckets: [30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 3 * 24 * 3600],
      registers: [registry],
    }),
    jobsDeferred: new Counter({
      name: "touchpoint_jobs_deferred_total",
      help: "Jobs put back to wait without spending an attempt: a dependency unavailable, or Vonage throttling.",
      labelNames: ["queue", "reason"] as const,
      registers: [registry],
    }),
    oldestPending: new Gauge({
      name: "touchpoint_oldest_pending_seconds",
      help: "Age of the oldest pending work by kind (events not evaluated, decisions not on a case, owed jobs past due), as the reconciler last saw it.",
      labelNames: ["kind"] as const,
      registers: [registry],
    }),
    workersRunning: new Gauge({
      name: "touchpoint_workers_running",
      help: "BullMQ workers running in this process.",
      registers: [registry],
    }),
    // The experience figures of the last 24 hours (see engine/experience), refreshed at most once a
    // minute when /metrics is scraped; README "Measuring the experience" says what each counts.
    experienceFirstContact: new Gauge({
      name: "touchpoint_experience_first_contact_seconds",
      help: "From a suspicious event's arrival to its case's first contact, last 24 h, by quantile.",
      labelNames: ["quantile"] as const,
      registers: [registry],
    }),
    experienceResolvedByCustomer: new Gauge({
      name: "touchpoint_experience_resolved_by_customer_ratio",
      help: "Share of the cases resolved in the last 24 h that the customer settled alone.",
      registers: [registry],
    }),
    experienceContactsPerCase: new Gauge({
      name: "touchpoint_experience_contacts_per_case",
      help: "Outbound messages and calls per case opened in the last 24 h.",
      registers: [registry],
    }),
    experienceSameAdvocate: new Gauge({
      name: "touchpoint_experience_same_advocate_ratio",
      help: "Share of returning customers' cases (opened in the last 24 h) routed to the advocate they had before.",
      registers: [registry],
    }),
    experienceFeedback: new Gauge({
      name: "touchpoint_experience_feedback_score",
      help: "Mean answer (1 poor to 5 great) to the question asked after resolution, last 24 h.",
      registers: [registry],
    }),
    experienceFalseAlarmContacts: new Gauge({
      name: "touchpoint_experience_false_alarm_contacts_per_1000",
      help: "Customers a rule contacted for a false alarm (cases resolved in the last 24 h), per 1,000 customers with events.",
      labelNames: ["rule"] as const,
      registers: [registry],
    }),
  };
  return m;
}

/** Sets the experience gauges from a report; a figure with nothing measured is left out, not zero. */
export function recordExperience(m: Metrics, r: ExperienceReport): void {
  const set = (g: Gauge, v: number | null) => (v === null ? g.reset() : g.set(v));
  m.experienceFirstContact.reset();
  for (const [q, v] of [
    ["0.5", r.timeToFirstContact.p50],
    ["0.9", r.timeToFirstContact.p90],
    ["0.99", r.timeToFirstContact.p99],
  ] as const)
    if (v !== null) m.experienceFirstContact.set({ quantile: q }, v);
  set(m.experienceResolvedByCustomer, r.resolvedByCustomer.share);
  set(m.experienceContactsPerCase, r.contactsPerCase.mean);
  set(m.experienceSameAdvocate, r.sameAdvocate.share);
  set(m.experienceFeedback, r.feedback.mean);
  m.experienceFalseAlarmContacts.reset();
  for (const rule of r.perRule)
    if (rule.per1000Customers !== null)
      m.experienceFalseAlarmContacts.set({ rule: rule.rule }, rule.per1000Customers);
}

export type Metrics = ReturnType<typeof createMetrics>;
