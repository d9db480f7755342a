import { describe, expect, it } from "vitest";
import { type ContactInput, DEFAULT_POLICY, decideContact } from "./policy.ts";

const phnomPenh = { lat: 11.5564, lon: 104.9282 };
const londoner = { homeTimezone: "Europe/London", homeCountry: "GB", optedOut: false };
const input = (over: Partial<ContactInput>): ContactInput => ({
  now: new Date("2026-11-22T19:30:00Z"),
  severity: "medium",
  customer: londoner,
  sentForIncident: 0,
  sentToCustomerLast3Days: 0,
  config: DEFAULT_POLICY,
  ...over,
});

describe("decideContact", () => {
  it("defers a medium-severity text for a Londoner now in Phnom Penh at 02:30 their time, until 08:00 there", () => {
    const d = decideContact(
      input({ currentLocation: { ...phnomPenh, at: new Date("2026-11-22T09:10:00Z") } }),
    );
    expect(d).toMatchObject({ action: "defer", timezone: "Asia/Phnom_Penh", localTime: "02:30" });
    expect(d.notBefore?.toISOString()).toBe("2026-11-23T01:00:00.000Z");
    expect(d.reason).toContain("quiet hours");
  });

  it("texts a high-severity case at once, at any hour, and says why", () => {
    const d = decideContact(input({ severity: "high", currentLocation: { ...phnomPenh, at: new Date() } }));
    expect(d.action).toBe("send");
    expect(d.reason).toContain("high severity");
  });

  it("judges by where the customer is, not where they live: 19:30 in London is not quiet", () => {
    expect(decideContact(input({})).action).toBe("send");
  });

  it("falls back to the home country's zone when nothing else is known", () => {
    const d = decideContact(
      input({ customer: { homeCountry: "FR", optedOut: false }, now: new Date("2026-11-22T22:30:00Z") }),
    );
    expect(d).toMatchObject({ action: "defer", timezone: "Europe/Paris" });
  });

  it("follows summer time: 07:30 UTC in July is 08:30 in London, so it sends", () => {
    expect(decideContact(input({ now: new Date("2026-07-01T07:30:00Z") })).action).toBe("send");
    expect(decideContact(input({ now: new Date("2026-12-01T07:30:00Z") })).action).toBe("defer");
  });

  it("never texts a customer who said STOP, whatever the severity", () => {
    const d = decideContact(input({ severity: "high", customer: { ...londoner, optedOut: true } }));
    expect(d).toMatchObject({ action: "suppress", reason: expect.stringContaining("opted out") });
  });

  it("stops at three texts per incident and three in three days", () => {
    expect(decideContact(input({ severity: "high", sentForIncident: 3 })).action).toBe("suppress");
    expect(decideContact(input({ severity: "high", sentToCustomerLast3Days: 3 })).reason).toMatch(/3 days/);
  });
});
