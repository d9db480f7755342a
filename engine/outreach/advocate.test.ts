/**
 * What an advocate may text a customer: no links, no card numbers, no phone number but the
 * bank's, at most four messages.
 */
import { describe, expect, it } from "vitest";
import { ADVOCATE_TEXT_MAX, advocateTextIssues } from "./advocate.ts";

const BANK = "+44 20 7946 0000";

describe("an advocate's text", () => {
  it("may say what an advocate needs to say, the bank's number and a card's last four included", () => {
    expect(
      advocateTextIssues(
        "Hi Sophie, it's Amara. Is the 2,300 EUR payment in Paris yours? Call us on +44 20 7946 0000.",
        BANK,
      ),
    ).toEqual([]);
    expect(advocateTextIssues("Card ending 4242: blocked.", BANK)).toEqual([]);
  });

  it("never carries a link, however it is written", () => {
    for (const t of [
      "see https://x.example",
      "go to www.bank-help.com now",
      "visit touchpoint-secure.com",
      "HTTP://A.B",
    ])
      expect(advocateTextIssues(t, BANK), t).toEqual([expect.stringMatching(/never carry links/)]);
  });

  it("never carries a card number, spaced, dashed or run together", () => {
    for (const t of [
      "4242424242424242",
      "4242 4242 4242 4242",
      "4242-4242-4242-4242",
      "card 5555555555554444 ok",
    ])
      expect(advocateTextIssues(t, BANK), t).toEqual([expect.stringMatching(/card number/)]);
    // 12 digits is not a card number (a reference, a phone number without its +).
    expect(advocateTextIssues("ref 123456789012", BANK)).toEqual([]);
  });

  it("is neither empty nor longer than four text messages", () => {
    expect(advocateTextIssues("   ", BANK)).toEqual(["empty"]);
    expect(advocateTextIssues("a".repeat(ADVOCATE_TEXT_MAX), BANK)).toEqual([]);
    expect(advocateTextIssues("a".repeat(ADVOCATE_TEXT_MAX + 1), BANK)).toEqual([
      `${ADVOCATE_TEXT_MAX + 1} characters; at most ${ADVOCATE_TEXT_MAX} (four text messages)`,
    ]);
  });

  it("gives no phone number but the bank's own, however it is written", () => {
    for (const t of ["Call us on 020 7946 0000", "Call +44 (0)20 7946 0000"])
      expect(advocateTextIssues(t, BANK), t).toEqual([]);
    const others: Array<[string, string]> = [
      ["Call me on 07911 123456", "+447911123456"],
      ["Call +33 6 12 34 56 78 now", "+33612345678"],
      // Not in libphonenumber's ranges (Ofcom's drama numbers), but dialable: refused all the same.
      ["Call us on +44 7700 900999.", "+447700900999"],
      ["or 07700 900999", "+447700900999"],
      ["Bank: +44 20 7946 0000, or me: +44 20 7946 0999", "+442079460999"],
    ];
    for (const [t, n] of others)
      expect(advocateTextIssues(t, BANK), t).toEqual([
        `a phone number (${n}) other than the bank's; give only the bank's own, ${BANK}`,
      ]);
    // Amounts, dates, references and a card's last four are not phone numbers.
    expect(
      advocateTextIssues(
        "Payment of 1234567 EUR (0.50 in fees) on 22/11/2026 at 11:05, ref 123456789012, card 4242, case 20261122",
        BANK,
      ),
    ).toEqual([]);
  });
});
