import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clockByParts, localClock } from "./places.ts";

/** Every zone this runtime knows, and a few whose changes fall off the hour or are not an hour. */
const ZONES = Intl.supportedValuesOf("timeZone");
const ODD = ["Australia/Lord_Howe", "Asia/Kathmandu", "America/St_Johns", "Asia/Kolkata", "Pacific/Chatham"];

describe("localClock: the zone's formatter's answer, kept by hour", () => {
  it("answers as the formatter in every zone, at any instant from 1975 to 2105", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ZONES),
        fc.integer({ min: Date.UTC(1975, 0, 1), max: Date.UTC(2105, 0, 1) }),
        (zone, ms) => {
          expect(localClock(ms, zone), `${zone} at ${new Date(ms).toISOString()}`).toEqual(
            clockByParts(ms, zone),
          );
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it("answers as the formatter minute by minute across the year's changes of offset", () => {
    // Each zone's two changes of 2026 (and any hour of Lord Howe's half-hour ones), found by
    // walking the year hour by hour, then every minute of the hours either side of each.
    for (const zone of [
      ...ODD,
      "Europe/London",
      "America/New_York",
      "Australia/Adelaide",
      "America/Santiago",
    ]) {
      let changes = 0;
      let before = clockByParts(Date.UTC(2026, 0, 1), zone);
      for (let h = Date.UTC(2026, 0, 1) + 3_600_000; h < Date.UTC(2027, 0, 1); h += 3_600_000) {
        const now = clockByParts(h, zone);
        if ((now.hour - before.hour + 24) % 24 !== 1 || now.time.slice(3) !== before.time.slice(3)) {
          changes++;
          for (let ms = h - 2 * 3_600_000; ms <= h + 3_600_000; ms += 60_000)
            expect(localClock(ms, zone), `${zone} at ${new Date(ms).toISOString()}`).toEqual(
              clockByParts(ms, zone),
            );
          expect(localClock(h - 1, zone)).toEqual(clockByParts(h - 1, zone));
        }
        before = now;
      }
      if (!["Asia/Kathmandu", "Asia/Kolkata"].includes(zone)) expect(changes, zone).toBeGreaterThanOrEqual(2);
    }
  });

  it("reads the clock of instants outside the hours it keeps from the formatter", () => {
    for (const ms of [Date.UTC(1901, 5, 1, 12), Date.UTC(2150, 0, 1), -1, 0])
      expect(localClock(ms, "Europe/Paris")).toEqual(clockByParts(ms, "Europe/Paris"));
  });
});
