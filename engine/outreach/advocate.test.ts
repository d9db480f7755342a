/** What an advocate may text a customer: no links, no card numbers, at most four messages. */
import { describe, expect, it } from "vitest";
import { ADVOCATE_TEXT_MAX, advocateTextIssues } from "./advocate.ts";

describe("an advocate's text", () => {
  it("may say what an advocate needs to say, the bank's number and a card's last four included", () => {
    expect(
      advocateTextIssues(
        "Hi Sophie, it's Amara. Is the 2,300 EUR payment in Paris yours? Call us on +44 20 7946 0000.",
      ),
    ).toEqual([]);
    expect(advocateTextIssues("Card ending 4242: blocked.")).toEqual([]);
  });

  it("never carries a link, however it is written", () => {
    for (const t of [
      "see https://x.example",
      "go to www.bank-help.com now",
      "visit touchpoint-secure.com",
      "HTTP://A.B",
    ])
      expect(advocateTextIssues(t), t).toEqual([expect.stringMatching(/never carry links/)]);
  });

  it("never carries a card number, spaced, dashed or run together", () => {
    for (const t of [
      "4242424242424242",
      "4242 4242 4242 4242",
      "4242-4242-4242-4242",
      "card 5555555555554444 ok",
    ])
      expect(advocateTextIssues(t), t).toEqual([expect.stringMatching(/card number/)]);
    // 12 digits is not a card number (a reference, a phone number without its +).
    expect(advocateTextIssues("ref 123456789012")).toEqual([]);
  });

  it("is neither empty nor longer than four text messages", () => {
    expect(advocateTextIssues("   ")).toEqual(["empty"]);
    expect(advocateTextIssues("a".repeat(ADVOCATE_TEXT_MAX))).toEqual([]);
    expect(advocateTextIssues("a".repeat(ADVOCATE_TEXT_MAX + 1))).toEqual([
      `${ADVOCATE_TEXT_MAX + 1} characters; at most ${ADVOCATE_TEXT_MAX} (four text messages)`,
    ]);
  });
});
