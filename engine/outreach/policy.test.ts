import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { type ContactInput, DEFAULT_POLICY, decideContact } from "./policy.ts";

const phnomPenh = { lat: 11.56, lon: 104.92 };
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
const inPhnomPenh = { currentLocation: { ...phnomPenh, at: new Date("2026-11-22T09:10:00Z") } };

describe("decideContact: quiet hours in the customer's current local time", () => {
  it("defers a medium-severity text for a Londoner now in Phnom Penh at 02:30 there, until 08:00 there (01:00 UTC)", () => {
    const d = decideContact(input(inPhnomPenh));
    expect(d).toMatchObject({ action: "defer", timezone: "Asia/Phnom_Penh", localTime: "02:30" });
    expect(d.notBefore?.toISOString()).toBe("2026-11-23T01:00:00.000Z");
    expect(d.reason).toBe(
      "quiet hours: 02:30 in Asia/Phnom_Penh (latest location, 10 h ago), medium severity waits until 08:00 local (2026-11-23T01:00:00Z)",
    );
  });

  it("texts the same high-severity case at once, at 02:30, and says why", () => {
    const d = decideContact(input({ ...inPhnomPenh, severity: "high" }));
    expect(d).toMatchObject({ action: "send", timezone: "Asia/Phnom_Penh", localTime: "02:30" });
    expect(d.notBefore).toBeUndefined();
    expect(d.reason).toContain("high severity is texted at any hour");
  });

  it("judges by where the customer is, not where they live: 19:30 in London is not quiet", () => {
    const d = decideContact(input({}));
    expect(d).toMatchObject({ action: "send", timezone: "Europe/London", localTime: "19:30" });
    expect(d.reason).toContain("19:30 in Europe/London (home time zone): outside quiet hours");
  });

  it("defers an evening text past midnight to the next morning", () => {
    const d = decideContact(input({ now: new Date("2026-11-22T21:00:00Z"), severity: "low" }));
    expect(d).toMatchObject({ action: "defer", localTime: "21:00" });
    expect(d.notBefore?.toISOString()).toBe("2026-11-23T08:00:00.000Z");
  });

  it("treats the quiet start hour as quiet and the end hour as open", () => {
    expect(decideContact(input({ now: new Date("2026-11-22T20:59:00Z") })).action).toBe("send");
    expect(decideContact(input({ now: new Date("2026-11-22T21:00:00Z") })).action).toBe("defer");
    expect(decideContact(input({ now: new Date("2026-11-23T07:59:00Z") })).action).toBe("defer");
    expect(decideContact(input({ now: new Date("2026-11-23T08:00:00Z") })).action).toBe("send");
  });

  it("honours configured quiet hours", () => {
    const config = { ...DEFAULT_POLICY, quietStartHour: 22, quietEndHour: 7 };
    expect(decideContact(input({ config, now: new Date("2026-11-22T21:30:00Z") })).action).toBe("send");
    const d = decideContact(input({ config, now: new Date("2026-11-22T22:30:00Z") }));
    expect(d.notBefore?.toISOString()).toBe("2026-11-23T07:00:00.000Z");
  });
});

describe("decideContact: summer time in Europe/London", () => {
  it("follows summer time: 07:30 UTC is 08:30 in July (send) but 07:30 in December (defer)", () => {
    expect(decideContact(input({ now: new Date("2026-07-01T07:30:00Z") })).action).toBe("send");
    expect(decideContact(input({ now: new Date("2026-12-01T07:30:00Z") })).action).toBe("defer");
  });

  it("on the night the clocks go forward, waits until 08:00 BST, which is 07:00 UTC", () => {
    // 2026-03-29: 01:00 GMT becomes 02:00 BST.
    const d = decideContact(input({ now: new Date("2026-03-28T22:00:00Z") }));
    expect(d).toMatchObject({ action: "defer", localTime: "22:00" });
    expect(d.notBefore?.toISOString()).toBe("2026-03-29T07:00:00.000Z");
    expect(decideContact(input({ now: new Date("2026-03-29T07:00:00Z") }))).toMatchObject({
      action: "send",
      localTime: "08:00",
    });
  });

  it("on the night the clocks go back, waits until 08:00 GMT, which is 08:00 UTC", () => {
    // 2026-10-25: 02:00 BST becomes 01:00 GMT.
    const d = decideContact(input({ now: new Date("2026-10-24T21:30:00Z") }));
    expect(d).toMatchObject({ action: "defer", localTime: "22:30" });
    expect(d.notBefore?.toISOString()).toBe("2026-10-25T08:00:00.000Z");
    expect(decideContact(input({ now: new Date("2026-10-25T07:30:00Z") })).action).toBe("defer");
  });
});

describe("decideContact: which zone", () => {
  it("falls back to the home country's zone when nothing else is known", () => {
    const d = decideContact(
      input({ customer: { homeCountry: "FR", optedOut: false }, now: new Date("2026-11-22T22:30:00Z") }),
    );
    expect(d).toMatchObject({ action: "defer", timezone: "Europe/Paris", localTime: "23:30" });
    expect(d.reason).toContain("(home country FR)");
  });

  it("ignores a home time zone that is not an IANA zone", () => {
    const d = decideContact(
      input({ customer: { homeTimezone: "Paris time", homeCountry: "FR", optedOut: false } }),
    );
    expect(d.timezone).toBe("Europe/Paris");
  });

  it("for a country of many zones, waits until it is morning in all of them, rather than guess one", () => {
    const us = { homeCountry: "US", optedOut: false };
    // 13:30 UTC: 08:30 in New York but 03:30 in Honolulu.
    const d = decideContact(input({ customer: us, now: new Date("2026-11-23T13:30:00Z") }));
    expect(d.action).toBe("defer");
    expect(d.timezone).toMatch(/^(Pacific\/Honolulu|America\/Adak)$/);
    expect(d.notBefore?.toISOString()).toBe("2026-11-23T18:00:00.000Z");
    expect(d.reason).toContain("home country US, judged in all");
    // 19:00 UTC: 14:00 in New York, 09:00 in Honolulu and Adak.
    expect(decideContact(input({ customer: us, now: new Date("2026-11-23T19:00:00Z") })).action).toBe("send");
  });

  it("uses UTC, and says so, for a country it cannot place", () => {
    const d = decideContact(input({ customer: { homeCountry: "ZZ", optedOut: false } }));
    expect(d).toMatchObject({ timezone: "UTC", localTime: "19:30", action: "send" });
    expect(d.reason).toContain("no zone known for ZZ");
  });
});

describe("decideContact: opt-out and caps", () => {
  it("never texts a customer who said STOP, whatever the severity or hour", () => {
    const d = decideContact(input({ severity: "high", customer: { ...londoner, optedOut: true } }));
    expect(d).toMatchObject({ action: "suppress", timezone: "Europe/London", localTime: "19:30" });
    expect(d.reason).toMatch(/^opted out \(STOP\).*19:30 in Europe\/London/);
  });

  it("stops at three texts per incident, even for high severity, naming that cap", () => {
    expect(decideContact(input({ severity: "high", sentForIncident: 2 })).action).toBe("send");
    const d = decideContact(input({ severity: "high", sentForIncident: 3 }));
    expect(d.action).toBe("suppress");
    expect(d.reason).toMatch(/^incident cap reached: 3 texts already for this incident \(max 3\)/);
  });

  it("stops at three texts to one customer in three days, naming that cap", () => {
    const d = decideContact(input({ severity: "high", sentToCustomerLast3Days: 3 }));
    expect(d.action).toBe("suppress");
    expect(d.reason).toMatch(/^3-day cap reached/);
  });

  it("suppresses rather than defers when a capped text falls in quiet hours", () => {
    expect(decideContact(input({ ...inPhnomPenh, sentForIncident: 3 })).action).toBe("suppress");
  });

  it("refuses quiet hours that are not whole hours of the day", () => {
    expect(() => decideContact(input({ config: { ...DEFAULT_POLICY, quietEndHour: 24 } }))).toThrow(
      ValidationError,
    );
  });
});
