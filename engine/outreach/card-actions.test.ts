/** Replacement cards: when, in working days and the customer's own zone, and where, in words a text may carry. */
import { describe, expect, it } from "vitest";
import { addWorkingDays, deliveryInWords, workingDaysFor } from "./card-actions.ts";

describe("a replacement card", () => {
  it("arrives in working days, counted in the customer's zone, weekends skipped", () => {
    // Friday 23:30 in Paris is Friday there: three working days later is Wednesday.
    expect(addWorkingDays(new Date("2026-12-04T22:30:00Z"), "Europe/Paris", 3).toISODate()).toBe(
      "2026-12-09",
    );
    // The same instant is already Saturday in Tokyo: three working days later is Wednesday too.
    expect(addWorkingDays(new Date("2026-12-04T22:30:00Z"), "Asia/Tokyo", 3).toISODate()).toBe("2026-12-09");
    // A Monday: Thursday.
    expect(addWorkingDays(new Date("2026-11-30T09:00:00Z"), "Europe/London", 3).toISODate()).toBe(
      "2026-12-03",
    );
    expect(workingDaysFor({ kind: "branch", branch: "Lyon" })).toBe(2);
    expect(workingDaysFor({ kind: "home" })).toBe(3);
  });

  it("is said to go to a town or a branch, never a street", () => {
    const street = {
      kind: "address",
      line1: "12 rue X",
      city: "Lyon",
      postcode: "69002",
      country: "FR",
    } as const;
    expect(deliveryInWords(street, null, "en")).toBe("the address you gave us in Lyon");
    expect(deliveryInWords(street, null, "fr")).toBe("l'adresse que vous nous avez donnée à Lyon");
    expect(deliveryInWords({ kind: "home" }, "Leeds", "en")).toBe("your home address in Leeds");
    expect(deliveryInWords({ kind: "home" }, null, "en")).toBe("your home address");
    expect(deliveryInWords({ kind: "branch", branch: "Lyon Part-Dieu" }, null, "en")).toBe(
      "our Lyon Part-Dieu branch",
    );
  });
});
