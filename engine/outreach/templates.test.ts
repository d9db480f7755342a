import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import { LANGUAGES, type MessageKind, renderMessage } from "./templates.ts";

const story = {
  bankName: "Touchpoint Bank",
  bankPhone: "+44 20 7946 0000",
  advocateName: "Amara Okafor",
  merchant: "Galerie Lumière",
  city: "Paris",
  amount: 2300,
  currency: "EUR",
  last4: "4242",
  action: "payee.added",
};

const KINDS: MessageKind[] = [
  "fraud_check",
  "behaviour_check",
  "reminder",
  "behaviour_reminder",
  "card_blocked",
  "account_secured",
  "thanks_false_alarm",
  "opt_out_confirmation",
  "help",
];

describe("renderMessage", () => {
  it("writes the Paris payment check in one GSM-7 segment, naming the advocate and the last four digits", () => {
    const m = renderMessage("fraud_check", "en", story);
    expect(m.text).toBe(
      "Touchpoint Bank: did you pay EUR 2,300.00 at Galerie Lumière, Paris with card ending 4242? Reply YES or NO. Amara Okafor is looking after this.",
    );
    expect(m).toMatchObject({ encoding: "GSM-7", segments: 1 });
  });

  it("formats French amounts without the no-break spaces that would force UCS-2", () => {
    const m = renderMessage("fraud_check", "fr", story);
    expect(m.text).toContain("2 300,00 EUR");
    expect(m.encoding).toBe("GSM-7");
  });

  for (const lang of LANGUAGES) {
    for (const kind of KINDS) {
      it(`${lang}/${kind}: no link, no number but the bank's, never more than four card digits`, () => {
        const { text, segments } = renderMessage(kind, lang, story);
        expect(text).not.toMatch(/https?:|www\.|\.[a-z]{2,}\//i);
        const digitRuns = text.replace("+44 20 7946 0000", "").match(/\d[\d ]{4,}\d/g) ?? [];
        // The only long digit runs allowed are amounts (with a decimal separator after them).
        for (const run of digitRuns) expect(run.replace(/\D/g, "").length).toBeLessThanOrEqual(4);
        expect(segments).toBeLessThanOrEqual(2);
      });
    }
  }

  it("falls back to English for a language it does not have", () => {
    expect(renderMessage("help", "de", story).language).toBe("en");
  });

  it("refuses to render with a variable missing, rather than send half a sentence", () => {
    expect(() => renderMessage("fraud_check", "en", { ...story, merchant: undefined })).toThrow(
      ValidationError,
    );
  });

  it("refuses anything but four digits as the card's last four", () => {
    expect(() => renderMessage("fraud_check", "en", { ...story, last4: "4000123412344242" })).toThrow(
      /four digits/,
    );
  });
});
