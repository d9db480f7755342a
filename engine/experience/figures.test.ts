/** The experience figures on hand-made case histories whose answers are known. */
import { describe, expect, it } from "vitest";
import { type CaseRow, experienceFigures, type FeedbackRow, percentiles } from "./figures.ts";

const at = (hhmm: string, day = "2026-12-02") => new Date(`${day}T${hhmm}:00Z`);

/** A case with nothing happened yet; each story below says what did. */
function kase(id: string, over: Partial<CaseRow>): CaseRow {
  return {
    id,
    customerId: `cus-${id}`,
    team: "fraud",
    status: "open",
    outcome: null,
    openedAt: at("10:00"),
    resolvedAt: null,
    advocateId: "adv-amara",
    firstEventAt: at("10:00"),
    rules: ["impossible-location-spend"],
    outbound: 0,
    firstOutboundAt: null,
    lastOutboundAt: null,
    firstInboundAt: null,
    lastInboundAt: null,
    deferredByQuietHours: false,
    atCap: false,
    resolvedBy: null,
    bankActed: false,
    firstAdvocateId: "adv-amara",
    returning: false,
    previousAdvocateId: null,
    ...over,
  };
}

const window = { since: at("00:00", "2026-12-01"), until: at("00:00", "2026-12-04") };
const now = at("12:00", "2026-12-03");

// A false alarm the customer settled alone: texted as the payment arrived, YES 5 min later.
const yes = kase("yes", {
  status: "resolved",
  outcome: "false_alarm",
  outbound: 2,
  firstOutboundAt: at("10:00"),
  lastOutboundAt: at("10:06"),
  firstInboundAt: at("10:05"),
  lastInboundAt: at("10:05"),
  resolvedAt: at("10:05"),
  resolvedBy: "customer:cus-yes",
});
// Confirmed fraud: NO by text, then the advocate called and resolved it. Two rules fired.
const no = kase("no", {
  customerId: "cus-no",
  status: "resolved",
  outcome: "confirmed_fraud",
  rules: ["impossible-location-spend", "foreign-spend-without-travel-notice"],
  firstEventAt: at("09:00", "2026-12-02"),
  openedAt: at("09:00", "2026-12-02"),
  outbound: 3,
  firstOutboundAt: at("09:02", "2026-12-02"),
  lastOutboundAt: at("09:20", "2026-12-02"),
  firstInboundAt: at("09:10", "2026-12-02"),
  lastInboundAt: at("09:10", "2026-12-02"),
  resolvedAt: at("11:00", "2026-12-02"),
  resolvedBy: "adv-amara",
  bankActed: true,
});
// A returning customer, routed back to the advocate of their last case; deferred to the morning,
// nothing sent yet: waiting on the bank since it opened.
const back = kase("back", {
  openedAt: at("23:00", "2026-12-02"),
  firstEventAt: at("23:00", "2026-12-02"),
  deferredByQuietHours: true,
  returning: true,
  previousAdvocateId: "adv-amara",
  firstAdvocateId: "adv-amara",
});
// A returning customer whose advocate was away: routed to another. They answered last.
const other = kase("other", {
  openedAt: at("08:00", "2026-12-03"),
  firstEventAt: at("08:00", "2026-12-03"),
  outbound: 1,
  firstOutboundAt: at("08:01", "2026-12-03"),
  lastOutboundAt: at("08:01", "2026-12-03"),
  firstInboundAt: at("08:30", "2026-12-03"),
  lastInboundAt: at("08:30", "2026-12-03"),
  returning: true,
  previousAdvocateId: "adv-priya",
  firstAdvocateId: "adv-bo",
  advocateId: "adv-bo",
  atCap: true,
});
// Opened before the window, resolved in it as a false alarm by the advocate, without a text.
const old = kase("old", {
  openedAt: at("10:00", "2026-11-28"),
  firstEventAt: at("10:00", "2026-11-28"),
  status: "resolved",
  outcome: "false_alarm",
  resolvedAt: at("10:00", "2026-12-01"),
  resolvedBy: "adv-amara",
  bankActed: true,
});
// Another team's: counted only when no team is asked for.
const disputes = kase("disputes", { team: "disputes", outbound: 1, firstOutboundAt: at("10:01") });

const feedback: FeedbackRow[] = [
  {
    caseId: "yes",
    team: "fraud",
    advocateId: "adv-amara",
    advocateName: "Amara Okafor",
    rules: ["impossible-location-spend"],
    askedAt: at("10:10"),
    score: 5,
  },
  {
    caseId: "no",
    team: "fraud",
    advocateId: "adv-amara",
    advocateName: "Amara Okafor",
    rules: ["impossible-location-spend", "foreign-spend-without-travel-notice"],
    askedAt: at("11:10"),
    score: 2,
  },
  {
    caseId: "x",
    team: "disputes",
    advocateId: "adv-bo",
    advocateName: "Bo",
    rules: ["big-atm-withdrawal"],
    askedAt: at("11:10"),
    score: null,
  },
];

describe("the experience figures", () => {
  const rows = {
    cases: [yes, no, back, other, old, disputes],
    customersWithEvents: 400,
    optOutsAfterContact: 1,
    feedback,
  };

  it("times the first contact and the first answer from the suspicious event's arrival, and counts deferrals", () => {
    const r = experienceFigures(rows, { ...window, team: "fraud" }, now);
    expect(r.cases).toBe(4); // yes, no, back, other: old opened before the window
    // 0 s (yes: first text at 10:00), 120 s (no), 60 s (other); back sent nothing yet.
    expect(r.timeToFirstContact).toEqual({ count: 3, p50: 60, p90: 120, p99: 120, deferredByQuietHours: 1 });
    expect(r.timeToFirstAnswer).toEqual({ count: 3, p50: 600, p90: 1800, p99: 1800 });
  });

  it("counts a case the customer settled alone, not one an advocate had to act on", () => {
    const r = experienceFigures(rows, { ...window, team: "fraud" }, now);
    // Resolved in the window: yes (by the customer), no (advocate), old (advocate).
    expect(r.resolvedByCustomer).toEqual({ count: 1, of: 3, share: 1 / 3 });
    expect(r.timeToResolution).toEqual({ count: 3, p50: 2 * 3600, p90: 3 * 86_400, p99: 3 * 86_400 });
  });

  it("counts contacts per case and the cases held at a cap", () => {
    const r = experienceFigures(rows, { ...window, team: "fraud" }, now);
    expect(r.contactsPerCase).toEqual({ mean: (2 + 3 + 0 + 1) / 4, max: 3, casesAtCap: 1 });
  });

  it("puts each rule's customers contacted for nothing beside its precision", () => {
    const r = experienceFigures(rows, { ...window, team: "fraud" }, now);
    expect(r.perRule).toEqual([
      // yes was texted for nothing; old was a false alarm too, but never texted.
      {
        rule: "impossible-location-spend",
        customersContactedForNothing: 1,
        per1000Customers: 2.5,
        precision: 1 / 3,
        confirmed: 1,
        falseAlarms: 2,
      },
      {
        rule: "foreign-spend-without-travel-notice",
        customersContactedForNothing: 0,
        per1000Customers: 0,
        precision: 1,
        confirmed: 1,
        falseAlarms: 0,
      },
    ]);
  });

  it("counts returning customers routed to the advocate they had before", () => {
    const r = experienceFigures(rows, { ...window, team: "fraud" }, now);
    expect(r.sameAdvocate).toEqual({ count: 1, of: 2, share: 0.5 });
  });

  it("lists the open cases waiting on the bank, longest first", () => {
    const r = experienceFigures(rows, { ...window, team: "fraud" }, now);
    expect(r.waitingOnBank).toEqual([
      {
        caseId: "back",
        customerId: "cus-back",
        advocateId: "adv-amara",
        since: at("23:00", "2026-12-02").toISOString(),
        seconds: 13 * 3600,
      },
      {
        caseId: "other",
        customerId: "cus-other",
        advocateId: "adv-bo",
        since: at("08:30", "2026-12-03").toISOString(),
        seconds: 3.5 * 3600,
      },
    ]);
  });

  it("averages the customers' scores by team, advocate and rule, leaving the unanswered out", () => {
    const all = experienceFigures(rows, window, now);
    expect(all.feedback).toMatchObject({ asked: 3, answered: 2, mean: 3.5 });
    expect(all.feedback.byAdvocate).toEqual([
      { key: "adv-amara", name: "Amara Okafor", answered: 2, mean: 3.5 },
    ]);
    expect(all.feedback.byRule).toEqual([
      { key: "foreign-spend-without-travel-notice", answered: 1, mean: 2 },
      { key: "impossible-location-spend", answered: 2, mean: 3.5 },
    ]);
    expect(experienceFigures(rows, { ...window, team: "disputes" }, now).feedback).toMatchObject({
      asked: 1,
      answered: 0,
      mean: null,
      byTeam: [],
    });
  });

  it("gives each day of the window its cases, and a team only its own", () => {
    const r = experienceFigures(rows, { ...window, team: "fraud" }, now);
    expect(r.days).toEqual([
      { day: "2026-12-01", casesOpened: 0, casesResolved: 1, resolvedByCustomer: 0, firstContactP50: null },
      { day: "2026-12-02", casesOpened: 3, casesResolved: 2, resolvedByCustomer: 1, firstContactP50: 0 },
      { day: "2026-12-03", casesOpened: 1, casesResolved: 0, resolvedByCustomer: 0, firstContactP50: 60 },
    ]);
    expect(experienceFigures(rows, window, now).cases).toBe(5);
  });

  it("reads an empty window as nothing, never NaN", () => {
    const r = experienceFigures(
      { cases: [], customersWithEvents: 0, optOutsAfterContact: 0, feedback: [] },
      window,
      now,
    );
    expect(r.timeToFirstContact).toEqual({
      count: 0,
      p50: null,
      p90: null,
      p99: null,
      deferredByQuietHours: 0,
    });
    expect(r.resolvedByCustomer.share).toBeNull();
    expect(r.contactsPerCase).toEqual({ mean: null, max: 0, casesAtCap: 0 });
    expect(JSON.stringify(r)).not.toMatch(/NaN|Infinity/);
  });
});

describe("percentiles", () => {
  it("takes the nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentiles(values)).toEqual({ count: 100, p50: 50, p90: 90, p99: 99 });
    expect(percentiles([7])).toEqual({ count: 1, p50: 7, p90: 7, p99: 7 });
  });
});
