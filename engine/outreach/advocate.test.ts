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
      "4242.4242.4242.4242",
      "4242/4242/4242/4242",
      "４２４２ ４２４２ ４２４２ ４２４２",
      "4242 4242 4242 4242 and 5555 5555 5555 4444",
    ])
      expect(advocateTextIssues(t, BANK), t).toEqual([
        "what looks like a card number; use the last four digits only",
      ]);
    // 12 digits is not a card number, but could be a phone number without its +.
    expect(advocateTextIssues("ref 123456789012", BANK)).toEqual([
      expect.stringMatching(/^a phone number \(123456789012\) other than the bank's/),
    ]);
  });

  it("is neither empty nor longer than four text messages", () => {
    expect(advocateTextIssues("   ", BANK)).toEqual(["empty"]);
    // Invisible characters alone are no text either: the customer would get a blank message.
    for (const blank of ["\u200b", "\u3164 \u200b", "\u2800\u034f"])
      expect(advocateTextIssues(blank, BANK)).toEqual(["empty"]);
    expect(advocateTextIssues("a".repeat(ADVOCATE_TEXT_MAX), BANK)).toEqual([]);
    expect(advocateTextIssues("a".repeat(ADVOCATE_TEXT_MAX + 1), BANK)).toEqual([
      `${ADVOCATE_TEXT_MAX + 1} characters; at most ${ADVOCATE_TEXT_MAX} (four text messages)`,
    ]);
  });

  it("gives no phone number but the bank's own, however it is written", () => {
    for (const t of ["Call us on 020 7946 0000", "Call +44 (0)20 7946 0000"])
      expect(advocateTextIssues(t, BANK), t).toEqual([]);
    const others: Array<[string, string]> = [
      ["Call me on 07911 123456", "07911 123456"],
      ["Call +33 6 12 34 56 78 now", "+33 6 12 34 56 78"],
      // Not in libphonenumber's ranges (Ofcom's drama numbers), but dialable: refused all the same.
      ["Call us on +44 7700 900999.", "+44 7700 900999"],
      ["or 07700 900999", "07700 900999"],
      ["Bank: +44 20 7946 0000, or me: +44 20 7946 0999", "+44 20 7946 0999"],
    ];
    for (const [t, n] of others)
      expect(advocateTextIssues(t, BANK), t).toEqual([
        `a phone number (${n}) other than the bank's; give only the bank's own, ${BANK}`,
      ]);
    // Amounts, dates, times, short references and a card's last four are not phone numbers.
    for (const t of [
      "Payment of 2,300.00 EUR (0.50 in fees) on 22/11/2026 at 11:05, card 4242, case 4711",
      "On 22/11/2026 11:05 and 11:05 22.11.26, then 2026-11-22 at 09:30:15",
      "12345.67 EUR; 1,234,567 EUR; 1,234,567.89 GBP; 10/01/26",
    ])
      expect(advocateTextIssues(t, BANK), t).toEqual([]);
  });

  it("gives no other number however its digits are separated, written or prefixed", () => {
    for (const t of [
      "+44/7700/900/123",
      "0 7700 900123",
      "０７７００ ９００１２３",
      "212-736-5000",
      "+44.7700.900.123",
      "(07700) 900_123",
      "0044 7700 900123",
      "+44 7700 900 12:34",
      "+44/07/11/2026",
      "ref 1234567",
      "22112026",
    ])
      expect(advocateTextIssues(t, BANK), t).toEqual([
        expect.stringMatching(/^a phone number \(.+\) other than the bank's; give only the bank's own/),
      ]);
    // Said as written, so the advocate finds it in the text.
    expect(advocateTextIssues("Ring 212-736-5000.", BANK)).toEqual([
      `a phone number (212-736-5000) other than the bank's; give only the bank's own, ${BANK}`,
    ]);
  });

  it("takes the bank's own number in any format, compared by its national number", () => {
    for (const t of [
      "+44 20 7946 0000",
      "020 7946 0000",
      "+44 (0)20 7946 0000",
      "0044 20 7946 0000",
      "020/7946/0000",
      "+44.20.7946.0000",
      "０２０ ７９４６ ００００",
      "44 20 7946 0000",
      "020 7946 0000 24/7",
      "020 7946 0000 (option 3)",
      "+44 20 7946 0000 - 7 days a week",
    ])
      expect(advocateTextIssues(`Call us on ${t}.`, BANK), t).toEqual([]);
    // Only a short number may sit beside it: a whole one is another number.
    expect(advocateTextIssues("Call +44 20 7946 0000 +44 7700 900123", BANK)).toEqual([
      `a phone number (+44 7700 900123) other than the bank's; give only the bank's own, ${BANK}`,
    ]);
    expect(advocateTextIssues("Call 020 7946 0000 07700 900123", BANK)).not.toEqual([]);
    const freephone = "+44 800 123 4567";
    for (const t of ["0800 123 4567", "+44 800 123 4567", "0044-800-123-4567"])
      expect(advocateTextIssues(`Call us on ${t}.`, freephone), t).toEqual([]);
    expect(advocateTextIssues("Call us on 020 7946 0000.", freephone)).toEqual([
      `a phone number (020 7946 0000) other than the bank's; give only the bank's own, ${freephone}`,
    ]);
  });
});
