import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { SegmentedMessage } from "sms-segments-calculator";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import {
  cleanDescriptor,
  LANGUAGES,
  MESSAGE_KINDS,
  renderMessage,
  segmentsOf,
  type TemplateVars,
  templateOf,
  templateVariables,
} from "./templates.ts";

const story: TemplateVars = {
  bankName: "Touchpoint Bank",
  bankPhone: "+44 20 7946 0000",
  advocateName: "Amara Okafor",
  merchant: "Galerie Lumière",
  city: "Paris",
  amount: 2300,
  currency: "EUR",
  last4: "4242",
  action: "payee.added",
  deliverTo: "our Lyon Part-Dieu branch",
  arrivesBy: "Fri 4 Dec",
};
const PAN = "4000123412344242";

describe("renderMessage", () => {
  it("writes the Paris payment check in one GSM-7 segment, naming the advocate, the payment and the last four digits", () => {
    const m = renderMessage("fraud_check", "en", story);
    expect(m.text).toBe(
      "Touchpoint Bank: did you pay EUR 2,300.00 at Galerie Lumière, Paris with card ending 4242? Reply YES or NO. Amara Okafor is looking after this.",
    );
    expect(m).toMatchObject({ encoding: "GSM-7", segments: 1, language: "en" });
  });

  it("writes the French check in one GSM-7 segment, with the amount formatted the French way", () => {
    const m = renderMessage("fraud_check", "fr", story);
    // fr-FR groups with a narrow no-break space, which is not GSM-7 (it would force UCS-2, 70 a segment).
    expect(m.text).toContain("2 300,00 EUR");
    expect(m.text).toContain("Répondez OUI ou NON");
    expect(m).toMatchObject({ encoding: "GSM-7", segments: 1 });
  });

  for (const lang of LANGUAGES) {
    for (const kind of MESSAGE_KINDS) {
      it(`${lang}/${kind}: no link, no number but the bank's, no card digits but the last four, at most 2 segments`, () => {
        const { text, segments, encoding } = renderMessage(kind, lang, story);
        expect(text).not.toMatch(/https?:|www\.|\.com\/|\.[a-z]{2,}\//i);
        const withoutBankPhone = text.replace(story.bankPhone, "");
        expect(withoutBankPhone).not.toMatch(/\+\d/);
        // Amounts are the only other digits, and never more than 4 in a run.
        expect(withoutBankPhone).not.toMatch(/\d{5,}/);
        expect(encoding).toBe("GSM-7");
        expect(segments).toBeLessThanOrEqual(2);
      });
    }
  }

  it("the fraud check, reminder and blocked-card texts name the card by its last four digits only", () => {
    for (const lang of LANGUAGES)
      for (const kind of ["fraud_check", "reminder", "card_blocked"] as const)
        expect(templateVariables(templateOf(kind, lang))).toContain("last4");
  });

  it("no template can use anything but the known variables, so a full card number has no way in", () => {
    const allowed = [
      "bankName",
      "bankPhone",
      "advocateName",
      "merchant",
      "city",
      "amount",
      "last4",
      "action",
      "deliverTo",
      "arrivesBy",
    ];
    for (const lang of LANGUAGES)
      for (const kind of MESSAGE_KINDS)
        for (const name of templateVariables(templateOf(kind, lang))) expect(allowed).toContain(name);
  });

  it("never lets a full card number through, whatever field it is smuggled in", () => {
    const smuggled = { ...story, pan: PAN, cardNumber: PAN, merchant: `SHOP ${PAN}` } as TemplateVars;
    for (const lang of LANGUAGES)
      for (const kind of MESSAGE_KINDS) {
        const { text } = renderMessage(kind, lang, smuggled);
        expect(text).not.toContain(PAN);
        expect(text).not.toContain(PAN.slice(0, 6));
      }
    expect(() => renderMessage("fraud_check", "en", { ...story, last4: PAN })).toThrow(/four digits/);
  });

  it("the blocked-card text says the card is blocked, who will call, and that the bank never asks for codes or money", () => {
    const { text } = renderMessage("card_blocked", "en", story);
    expect(text).toContain("Card ending 4242 is blocked");
    expect(text).toContain("Amara Okafor");
    expect(text).toMatch(/never ask for codes or to move money/);
  });

  it("the help text says who we are and how to stop", () => {
    const { text } = renderMessage("help", "en", story);
    expect(text).toContain("Touchpoint Bank");
    expect(text).toContain("Reply STOP");
  });

  it("asks about account behaviour in words, not event types", () => {
    const { text } = renderMessage("behaviour_check", "en", { ...story, action: "password.reset" });
    expect(text).toContain("resetting your password");
    expect(text).toContain("Reply YES or NO");
    expect(text).not.toContain("password.reset");
  });

  it("falls back to English for a language it does not have, and uses the base language of a regional tag", () => {
    expect(renderMessage("help", "de", story).language).toBe("en");
    expect(renderMessage("help", "fr-CA", story).language).toBe("fr");
    expect(renderMessage("help", "FR_fr", story).language).toBe("fr");
  });

  it("refuses to render with a variable missing, rather than send half a sentence", () => {
    const attempt = () => renderMessage("fraud_check", "en", { ...story, merchant: undefined });
    expect(attempt).toThrow(ValidationError);
    expect(attempt).toThrow("template en/fraud_check needs merchant");
    expect(() => renderMessage("fraud_check", "en", { ...story, currency: undefined })).toThrow(
      /needs amount/,
    );
    expect(() => renderMessage("behaviour_check", "en", { ...story, action: "unheard.of" })).toThrow(
      /needs action/,
    );
  });

  it("refuses a currency that is not ISO 4217 and an amount that is not a number of money", () => {
    expect(() => renderMessage("fraud_check", "en", { ...story, currency: "euros" })).toThrow(
      ValidationError,
    );
    expect(() => renderMessage("fraud_check", "en", { ...story, amount: Number.NaN })).toThrow(
      ValidationError,
    );
  });

  it("escapes nothing: an ampersand or quote in a merchant name is sent as it is", () => {
    const { text } = renderMessage("fraud_check", "en", { ...story, merchant: `Marks & Spencer "Food"` });
    expect(text).toContain(`at Marks & Spencer "Food", Paris`);
  });

  it("counts a long UCS-2 text in 67-character segments", () => {
    const m = renderMessage("fraud_check", "en", { ...story, advocateName: "Ảmara Okafor" });
    expect(m.encoding).toBe("UCS-2");
    expect(m.segments).toBe(Math.ceil(m.text.length / 67));
  });
});

describe("segmentsOf: the library's count, without its cost", () => {
  // Plain GSM-7, the extension characters (two septets each), and what is not GSM-7 at all:
  // accents outside the set, an emoji (a surrogate pair), CR LF (one grapheme), a combining mark.
  const plain = fc.constantFrom(..."abcXYZ019 .,:?!'@£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ#%&()*+-/<=>¡ÄÖÑÜ§¿äöñüà\n");
  const extension = fc.constantFrom(..."^{}\\[~]|€\f");
  // Outside GSM-7 but one unit and one grapheme each: the UCS-2 texts counted without the library.
  const alone = fc.oneof(
    ...[
      [0x00a0, 0x02ff],
      [0x0370, 0x03ff],
      [0x0400, 0x0482],
      [0x048a, 0x052f],
      [0x1e00, 0x1eff],
      [0x2010, 0x2027],
      [0x2030, 0x205e],
      [0x20a0, 0x20c0],
    ].map(([min, max]) => fc.integer({ min: min!, max: max! }).map((c) => String.fromCharCode(c))),
  );
  // What goes to the library: combining marks (alone and after a letter), an emoji (a surrogate
  // pair), a family joined by ZWJ, a flag, Hangul jamo, Arabic, a zero-width space, a soft hyphen.
  const other = fc.constantFrom(
    "e\u0301",
    "\u0301",
    "\u0483",
    "🙂",
    "👩\u200d👩\u200d👧",
    "🇫🇷",
    "\u1100\u1161",
    "مرحبا",
    "\u200b",
    "\u00ad",
    "\u2028",
  );
  const text = (chars: fc.Arbitrary<string>, max: number) =>
    fc.array(chars, { maxLength: max, size: "max" }).map((cs) => cs.join(""));
  const library = (t: string) => {
    const seg = new SegmentedMessage(t);
    return { encoding: seg.encodingName, segments: seg.segmentsCount };
  };
  /** `runs` texts of up to `max` of these characters: counted here as the library counts them. */
  const agreesOn = (chars: fc.Arbitrary<string>, max: number, runs: number) =>
    fc.assert(
      fc.property(text(chars, max), (t) => {
        expect(segmentsOf(t)).toEqual(library(t));
      }),
      { numRuns: runs },
    );

  it("agrees with sms-segments-calculator on GSM-7 texts of every length to five segments", () => {
    agreesOn(fc.oneof({ weight: 6, arbitrary: plain }, { weight: 1, arbitrary: extension }), 800, 400);
  });

  it("knows GSM-7 from the library's table when loaded as npm start loads it (Node and tsx, not vitest)", () => {
    const script = `import { isGsm7 } from ${JSON.stringify(new URL("./templates.ts", import.meta.url).href)};
      console.log(JSON.stringify(["A", "€", "é", "ł"].map((c) => isGsm7(c.charCodeAt(0)))));`;
    const run = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    expect(run.stderr).toBe("");
    expect(JSON.parse(run.stdout)).toEqual([true, true, true, false]);
  });

  it("agrees at the edges: 160 and 161 septets, an extension character across a segment's end", () => {
    for (const t of [
      "a".repeat(160),
      "a".repeat(161),
      `${"a".repeat(159)}€`,
      `${"a".repeat(152)}€${"a".repeat(20)}`,
      `${"a".repeat(153)}€`,
      `${"a".repeat(306)}`,
      `${"a".repeat(307)}`,
      `${"a".repeat(305)}{`,
      "",
    ])
      expect(segmentsOf(t), `${t.length} characters`).toEqual(library(t));
  });

  it("agrees with it on UCS-2 texts of accented letters, Greek, Cyrillic and typographic punctuation", () => {
    agreesOn(
      fc.oneof(
        { weight: 6, arbitrary: plain },
        { weight: 1, arbitrary: extension },
        { weight: 2, arbitrary: alone },
        { weight: 1, arbitrary: fc.constantFrom("\r\n", "\r") },
      ),
      400,
      400,
    );
    for (const t of [
      "ả".repeat(70),
      "ả".repeat(71),
      `ł${"a".repeat(133)}`,
      `${"a".repeat(134)}’`,
      "São Paulo",
    ])
      expect(segmentsOf(t), `${t.length} characters`).toEqual(library(t));
  });

  it("agrees with it when a text holds anything else", () => {
    agreesOn(
      fc.oneof(
        { weight: 8, arbitrary: plain },
        { weight: 1, arbitrary: extension },
        { weight: 1, arbitrary: alone },
        { weight: 1, arbitrary: other },
      ),
      300,
      300,
    );
    // A grapheme of two units across the end of a UCS-2 part: the library moves it whole to the
    // next part, which makes a text of 134 units three segments, not two.
    for (const joined of ["e\u0301", "a\u200d", "a\u200c", "a\u0483", "\u1100\u1161"]) {
      const t = `ł${"a".repeat(65)}${joined}${"a".repeat(66)}`;
      expect(library(t).segments, JSON.stringify(joined)).toBe(3);
      expect(segmentsOf(t), JSON.stringify(joined)).toEqual(library(t));
    }
  });
});

describe("cleanDescriptor", () => {
  it.each([
    ["Galerie Lumière", "Galerie Lumière"],
    ["PAYPAL *SHOP 4029357733", "PAYPAL *SHOP"],
    ["WWW.SHOP.COM/HELP", "SHOP"],
    ["AMAZON.COM*2K4L93", "AMAZON*2K4L93"],
    ["https://evil.example.io/pay now", "evil now"],
    ["Call +44 20 7946 0999", "Call"],
    ["Boulangerie   de la  Gare", "Boulangerie de la Gare"],
    ["7-Eleven 1234", "7-Eleven 1234"],
    ["http://shop.fr/x", "shop"],
    ["Shop.co.uk/offers", "Shop"],
    ["ACME.COMPANY LTD", "ACME.COMPANY LTD"],
    ["Shop 12345", "Shop"],
    ["PAY.SHOP2.COM/x", "PAY"],
    ["WWW.A1.B2.CO.UK/X Y", "A1 Y"],
  ])("cleans %j to %j", (raw, clean) => {
    expect(cleanDescriptor(raw)).toBe(clean);
  });

  it("keeps a merchant name to 40 characters", () => {
    expect(cleanDescriptor("A".repeat(80))).toHaveLength(40);
  });
});

describe("renderMessage: what it checks and how it reports", () => {
  const bare: TemplateVars = {
    bankName: "Touchpoint Bank",
    bankPhone: "+44 20 7946 0000",
    advocateName: "Amara",
  };
  const failure = (attempt: () => unknown): ValidationError => {
    try {
      attempt();
    } catch (err) {
      if (err instanceof ValidationError) return err;
      throw err;
    }
    throw new Error("expected a ValidationError");
  };

  it("has an English and a French file, and nothing else", () => {
    expect(LANGUAGES).toEqual(["en", "fr"]);
  });

  it("renders a text that needs no payment from the bank's details alone", () => {
    expect(renderMessage("help", "en", bare).text).toBe(
      "Touchpoint Bank fraud alerts: we only ask YES or NO, never for codes or to move money. Call +44 20 7946 0000. Reply STOP to end texts.",
    );
    expect(renderMessage("help", "en", { ...bare, currency: "EUR" }).text).toContain("Touchpoint Bank");
    expect(renderMessage("help", "en", { ...bare, amount: 10 }).text).toContain("Touchpoint Bank");
    expect(renderMessage("help", "en", { ...bare, last4: "" }).text).toContain("Touchpoint Bank");
  });

  it("shows a payment of zero rather than calling the amount missing", () => {
    expect(renderMessage("fraud_check", "en", { ...story, amount: 0 }).text).toContain(
      "did you pay EUR 0.00 at",
    );
  });

  it("refuses a negative amount, naming the field", () => {
    const err = failure(() => renderMessage("fraud_check", "en", { ...story, amount: -1 }));
    expect(err.message).toBe("amount: a finite, non-negative number");
    expect(err.issues).toEqual([{ path: "amount", message: "a finite, non-negative number" }]);
    expect(() => renderMessage("fraud_check", "en", { ...story, amount: Number.POSITIVE_INFINITY })).toThrow(
      "amount: a finite, non-negative number",
    );
  });

  it("refuses an unknown currency, naming the field", () => {
    const err = failure(() => renderMessage("fraud_check", "en", { ...story, currency: "euros" }));
    expect(err.message).toBe("currency: an ISO 4217 code such as EUR");
    expect(err.issues).toEqual([{ path: "currency", message: "an ISO 4217 code such as EUR" }]);
  });

  it("refuses card digits that are not exactly four, wherever the extra characters are", () => {
    for (const last4 of ["424", "42424", "x4242", "4242x", "42 42"]) {
      const err = failure(() => renderMessage("fraud_check", "en", { ...story, last4 }));
      expect(err.message).toBe("last4: exactly four digits");
      expect(err.issues).toEqual([{ path: "last4", message: "exactly four digits" }]);
    }
  });

  it("lists every missing variable, in the template's order, as one issue each", () => {
    const err = failure(() => renderMessage("fraud_check", "en", { ...story, merchant: "", city: "  " }));
    expect(err.message).toBe("template en/fraud_check needs merchant, city");
    expect(err.issues).toEqual([
      { path: "merchant", message: "required by the template" },
      { path: "city", message: "required by the template" },
    ]);
  });

  it("treats a city, card digits or behaviour left out as missing, not as blank", () => {
    expect(() => renderMessage("fraud_check", "en", { ...story, city: undefined })).toThrow("needs city");
    expect(() => renderMessage("fraud_check", "en", { ...story, last4: undefined })).toThrow("needs last4");
    expect(() => renderMessage("behaviour_check", "en", { ...story, action: undefined })).toThrow(
      "needs action",
    );
  });

  it("collapses runs of whitespace and trims the ends of the text", () => {
    const { text } = renderMessage("help", "en", { ...bare, bankName: "  Touchpoint \n Bank" });
    expect(text).toMatch(/^Touchpoint Bank fraud alerts: /);
  });
});

describe("cleanDescriptor: digits and length", () => {
  it("keeps a run of four digits or fewer, even with separators, and drops a run of five or more", () => {
    expect(cleanDescriptor("Unit 12-34 Mall")).toBe("Unit 12-34 Mall");
    expect(cleanDescriptor("Unit 12-345 Mall")).toBe("Unit Mall");
  });

  it("counts the 40 characters from the first letter, not from leading spaces", () => {
    expect(cleanDescriptor(`   ${"A".repeat(45)}`)).toBe("A".repeat(40));
  });

  it("does not leave a trailing space where it cut the name at 40 characters", () => {
    expect(cleanDescriptor(`${"A".repeat(39)} BCD`)).toBe("A".repeat(39));
  });

  it("keeps a name that only looks like it has a dot in it", () => {
    expect(cleanDescriptor("J.CREW STORE")).toBe("J.CREW STORE");
  });
});

describe("templateVariables", () => {
  it("names escaped and unescaped variables in order, but not sections or comments", () => {
    expect(templateVariables("{{a}} {{{b}}} {{& c}} {{#d}}x{{/d}} {{! note}}")).toEqual(["a", "b", "c"]);
  });
});

describe("the template files", () => {
  it("give one template per kind, exactly as written in templates/<lang>.json", () => {
    for (const lang of ["en", "fr"]) {
      const file = JSON.parse(readFileSync(new URL(`./templates/${lang}.json`, import.meta.url), "utf8"));
      for (const kind of MESSAGE_KINDS) expect(templateOf(kind, lang)).toBe(file[kind]);
    }
  });
});
