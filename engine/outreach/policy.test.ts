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

  it("defers to a time that is morning in every zone at once, not only in those quiet now", () => {
    // 02:30 UTC: 21:30 in New York (quiet), 16:30 in Honolulu (awake). New York's morning, 13:00
    // UTC, is 03:00 in Honolulu: the text waits for 18:00 UTC, morning in both.
    const us = { homeCountry: "US", optedOut: false };
    const d = decideContact(input({ customer: us, now: new Date("2026-11-24T02:30:00Z") }));
    expect(d.action).toBe("defer");
    expect(d.notBefore?.toISOString()).toBe("2026-11-24T18:00:00.000Z");
    expect(decideContact(input({ customer: us, now: d.notBefore! })).action).toBe("send");
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

describe("decideContact: the reason, word for word", () => {
  it("says where and when it judged, the quiet window and the severity when it sends now", () => {
    expect(decideContact(input({})).reason).toBe(
      "19:30 in Europe/London (home time zone): outside quiet hours (21:00-08:00), medium severity sends now",
    );
  });

  it("writes single-digit quiet hours with a leading zero", () => {
    const config = { ...DEFAULT_POLICY, quietStartHour: 1, quietEndHour: 6 };
    expect(decideContact(input({ config })).reason).toContain("outside quiet hours (01:00-06:00)");
  });

  it("says a high-severity text in quiet hours goes anyway, naming the local time and zone", () => {
    expect(decideContact(input({ ...inPhnomPenh, severity: "high" })).reason).toBe(
      "quiet hours: 02:30 in Asia/Phnom_Penh (latest location, 10 h ago), but high severity is texted at any hour",
    );
  });

  it("names the opt-out, the cap and its count, and where it judged, when it suppresses", () => {
    expect(decideContact(input({ customer: { ...londoner, optedOut: true } })).reason).toBe(
      "opted out (STOP): no texts at any severity; 19:30 in Europe/London (home time zone)",
    );
    expect(decideContact(input({ sentForIncident: 4 })).reason).toBe(
      "incident cap reached: 4 texts already for this incident (max 3); 19:30 in Europe/London (home time zone)",
    );
    expect(decideContact(input({ sentToCustomerLast3Days: 5 })).reason).toBe(
      "3-day cap reached: 5 texts to this customer in 3 days (max 3); 19:30 in Europe/London (home time zone)",
    );
  });

  it("still texts a customer who has had two texts in three days", () => {
    expect(decideContact(input({ severity: "high", sentToCustomerLast3Days: 2 })).action).toBe("send");
  });
});

describe("decideContact: how old the latest location is", () => {
  const locatedAgo = (minutes: number) =>
    decideContact(
      input({
        currentLocation: {
          ...phnomPenh,
          at: new Date(Date.parse("2026-11-22T19:30:00Z") - minutes * 60_000),
        },
      }),
    ).reason;

  it("counts minutes up to 89, then hours up to 47, then days", () => {
    expect(locatedAgo(89)).toContain("(latest location, 89 min ago)");
    expect(locatedAgo(90)).toContain("(latest location, 2 h ago)");
    expect(locatedAgo(47 * 60 + 29)).toContain("(latest location, 47 h ago)");
    expect(locatedAgo(48 * 60 - 1)).toContain("(latest location, 48 h ago)");
    expect(locatedAgo(48 * 60)).toContain("(latest location, 2 days ago)");
    expect(locatedAgo(10 * 1440)).toContain("(latest location, 10 days ago)");
  });

  it("calls a location stamped after now 0 min old rather than negative", () => {
    expect(locatedAgo(-5)).toContain("(latest location, 0 min ago)");
  });

  it("falls back to the home zone when the coordinates cannot be placed", () => {
    const d = decideContact(
      input({ currentLocation: { lat: 91, lon: 0, at: new Date("2026-11-22T19:00:00Z") } }),
    );
    expect(d).toMatchObject({ timezone: "Europe/London", action: "send" });
    expect(d.reason).toContain("(home time zone)");
  });
});

describe("decideContact: configured quiet hours", () => {
  it("with a window that does not cross midnight (01:00-06:00), is quiet only inside it", () => {
    const config = { ...DEFAULT_POLICY, quietStartHour: 1, quietEndHour: 6 };
    const at = (iso: string) => decideContact(input({ config, now: new Date(iso) }));
    expect(at("2026-11-23T00:59:00Z").action).toBe("send");
    expect(at("2026-11-23T01:00:00Z").action).toBe("defer");
    expect(at("2026-11-23T05:59:00Z").notBefore?.toISOString()).toBe("2026-11-23T06:00:00.000Z");
    expect(at("2026-11-23T06:00:00Z").action).toBe("send");
    expect(at("2026-11-22T23:30:00Z").action).toBe("send");
  });

  it("has no quiet hours at all when they start and end at the same hour", () => {
    const config = { ...DEFAULT_POLICY, quietStartHour: 8, quietEndHour: 8 };
    for (const iso of ["2026-11-23T03:00:00Z", "2026-11-23T08:00:00Z", "2026-11-23T12:00:00Z"])
      expect(decideContact(input({ config, now: new Date(iso) })).action).toBe("send");
  });

  it("accepts midnight and 23:00 as quiet hours", () => {
    const config = { ...DEFAULT_POLICY, quietStartHour: 23, quietEndHour: 0 };
    expect(decideContact(input({ config, now: new Date("2026-11-22T23:30:00Z") }))).toMatchObject({
      action: "defer",
      notBefore: new Date("2026-11-23T00:00:00Z"),
    });
  });

  it("refuses negative, fractional or out-of-range hours, naming each bad field", () => {
    const refused = (over: Partial<typeof DEFAULT_POLICY>) => {
      try {
        decideContact(input({ config: { ...DEFAULT_POLICY, ...over } }));
      } catch (err) {
        return err;
      }
      return undefined;
    };
    const err = refused({ quietStartHour: -1, quietEndHour: 7.5 });
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toBe("quiet hours must be whole hours 0-23");
    expect((err as ValidationError).issues).toEqual([
      { path: "quietStartHour", message: "an integer from 0 to 23" },
      { path: "quietEndHour", message: "an integer from 0 to 23" },
    ]);
    expect((refused({ quietStartHour: 24 }) as ValidationError).issues).toEqual([
      { path: "quietStartHour", message: "an integer from 0 to 23" },
    ]);
  });
});

describe("decideContact: countries of several zones", () => {
  const country = (homeCountry: string) => ({ homeCountry, optedOut: false });

  it("reports the westmost zone when none is quiet: Kaliningrad, not the alphabetically first Anadyr", () => {
    // 07:00 UTC: 09:00 in Kaliningrad (UTC+2), 19:00 in Anadyr (UTC+12).
    const d = decideContact(input({ customer: country("RU"), now: new Date("2026-11-23T07:00:00Z") }));
    expect(d).toMatchObject({ action: "send", timezone: "Europe/Kaliningrad", localTime: "09:00" });
    expect(d.reason).toContain("(home country RU, judged in all 27 of its zones)");
  });

  it("reports the westmost zone that is quiet, not the westmost zone, when a high-severity text goes in quiet hours", () => {
    // 12:00 UTC: 14:00 in Kaliningrad, 21:00 at UTC+9 (Chita, Khandyga, Yakutsk), midnight in Anadyr.
    const d = decideContact(
      input({ customer: country("RU"), severity: "high", now: new Date("2026-11-23T12:00:00Z") }),
    );
    expect(d).toMatchObject({ action: "send", timezone: "Asia/Chita", localTime: "21:00" });
  });

  it("of zones with the same morning, names the westmost, then the alphabetically first", () => {
    const d = decideContact(input({ customer: country("US"), now: new Date("2026-11-23T13:30:00Z") }));
    expect(d).toMatchObject({ action: "defer", timezone: "America/Adak", localTime: "03:30" });
  });

  it("either side of the date line, waits for the later morning, not the westmost zone's", () => {
    // UM: Pago Pago (UTC-11) and Tarawa (UTC+12). 09:00 UTC is 22:00 and 21:00 there.
    const d = decideContact(input({ customer: country("UM"), now: new Date("2026-11-23T09:00:00Z") }));
    expect(d).toMatchObject({ action: "defer", timezone: "Pacific/Tarawa", localTime: "21:00" });
    expect(d.notBefore?.toISOString()).toBe("2026-11-23T20:00:00.000Z");
  });

  it("reads a country code in any case", () => {
    expect(decideContact(input({ customer: country("fr") })).timezone).toBe("Europe/Paris");
  });

  it("says so when the customer's country is not known at all", () => {
    const d = decideContact(input({ customer: country("") }));
    expect(d).toMatchObject({ timezone: "UTC", action: "send" });
    expect(d.reason).toContain("(no zone known for an unknown country)");
  });
});
