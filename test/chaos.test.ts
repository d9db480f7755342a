/**
 * The chaos run, CI-sized: workers killed every few seconds, Redis restarted keeping its data
 * and then empty, Postgres restarted, while a seeded stream is posted. `npm run chaos` is the
 * full-size run.
 */
import { describe, expect, it } from "vitest";
import { runChaos } from "./support/chaos.ts";

describe("chaos: kills and restarts while a stream is posted", () => {
  it("loses nothing, does nothing twice, and texts every impossible traveller once", async () => {
    const report = await runChaos({
      seed: 5,
      customers: 80,
      chunk: 20,
      workers: 2,
      killEveryMs: 2500,
      postgresDownMs: 3000,
      // Generous: this runs beside other suites on two cores, and a text that met a slow fake
      // Vonage retries with backoff (attempts 0.5 s, 1 s, 2 s, … apart).
      recoveryTimeoutMs: 240_000,
      say: () => {},
    });
    expect(report.accepted).toBe(report.events);
    expect(report.lost, JSON.stringify(report.untexted ?? null)).toEqual({
      eventsNotStored: 0,
      eventsNotEvaluated: 0,
      decisionsNotOnACase: 0,
      casesMissing: 0,
      travellersMissed: 0,
      casesWithoutText: 0,
      owedJobsPastDue: 0,
    });
    expect(report.duplicated).toEqual({
      casesBeyondOnePerCustomer: 0,
      unexpectedCases: 0,
      textsBeyondOnePerCase: 0,
      timelineEntries: 0,
    });
    expect(report.redisRestarts).toEqual({ keep: 1, empty: 1 });
    expect(report.postgresRestarts).toBe(1);
    // Each disruption was recovered from (its watcher saw everything accepted before it done).
    expect(Object.keys(report.recoveries).sort()).toEqual([
      "Postgres stops for 3000 ms",
      "Redis restarts empty",
      "Redis restarts keeping its data",
    ]);
    expect(report.cases).toBeGreaterThan(0);
    // A text can be uncertain only where a worker was killed in the middle of sending it.
    expect(report.textsUncertain).toBeLessThanOrEqual(report.kills);
    expect(report.texts + report.textsUncertain).toBe(report.cases);
  }, 420_000);
});
