import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import {
  CALL_STATUSES,
  checkCallNcco,
  connectNcco,
  endpointFor,
  goodbyeNcco,
  machineNcco,
  type Ncco,
  noInputNcco,
  parseCallEvent,
  parseKeypad,
  spokenAmount,
  spokenPhone,
  ttsLanguage,
  VOICE_KINDS,
  voiceText,
} from "./ncco.ts";
import { LANGUAGES, type TemplateVars, templateVariables } from "./templates.ts";

const story: TemplateVars = {
  bankName: "Touchpoint Bank",
  bankPhone: "+44 20 7946 0000",
  advocateName: "Amara Okafor",
  merchant: "Galerie Lumière",
  city: "Paris",
  amount: 2300,
  currency: "EUR",
  last4: "4242",
};
const PAN = "4000123412344242";
const inputUrl = "https://touchpoint.example/webhooks/vonage/voice/input?case=c1&attempt=1";

/** Everything the call says, in order. */
const said = (ncco: Ncco) => ncco.flatMap((a) => (a.action === "talk" ? [a.text] : [])).join(" ");

/** Digits the way a listener hears them: the spaces TTS pauses on between single digits taken out. */
const heardDigits = (text: string) => text.replace(/(\d)[ ,]+(?=\d)/g, "$1");

describe("checkCallNcco", () => {
  it("says who is calling, the payment in words and the menu, then waits 8 s for one key posted to the input URL", () => {
    const ncco = checkCallNcco({ language: "en", vars: story, inputUrl, attempt: 1 });
    expect(ncco).toEqual([
      {
        action: "talk",
        text: "Hello, this is Touchpoint Bank. Amara Okafor from our fraud team has asked us to check a payment on your card.",
        language: "en-GB",
        bargeIn: false,
      },
      {
        action: "talk",
        text: "Did you pay €2300 at Galerie Lumière, in Paris, with your card ending 4 2 4 2? Press 1 if it was you. Press 2 if it was not you. Press 0 to talk to someone.",
        language: "en-GB",
        bargeIn: true,
      },
      {
        action: "input",
        type: ["dtmf"],
        dtmf: { maxDigits: 1, timeOut: 8, submitOnHash: false },
        eventUrl: [inputUrl],
        eventMethod: "POST",
      },
    ]);
  });

  it("asks in French, with the French TTS voice and the amount the French way", () => {
    const ncco = checkCallNcco({ language: "fr", vars: { ...story, amount: 2300.5 }, inputUrl, attempt: 1 });
    expect(said(ncco)).toContain("Bonjour, ici Touchpoint Bank.");
    expect(said(ncco)).toContain("Avez-vous payé 2300,50 € chez Galerie Lumière, à Paris");
    expect(said(ncco)).toContain("Tapez 1 si c'était vous. Tapez 2 si ce n'était pas vous. Tapez 0");
    for (const a of ncco) if (a.action === "talk") expect(a.language).toBe("fr-FR");
  });

  it("keeps a regional voice Vonage has (fr-CA, en-US) and falls back to English for a language without words", () => {
    expect(ttsLanguage("fr-CA")).toBe("fr-CA");
    expect(ttsLanguage("fr_BE")).toBe("fr-FR");
    expect(ttsLanguage("en-US")).toBe("en-US");
    expect(ttsLanguage("de-DE")).toBe("en-GB");
    const ncco = checkCallNcco({ language: "de", vars: story, inputUrl, attempt: 1 });
    expect(said(ncco)).toContain("Did you pay");
  });

  it("opens with a greeting that holds no payment detail, so a machine verdict can move the call before any is said", () => {
    const [greeting] = checkCallNcco({ language: "en", vars: story, inputUrl, attempt: 1 });
    expect(greeting).toMatchObject({ action: "talk", bargeIn: false });
    const text = greeting?.action === "talk" ? greeting.text : "";
    for (const detail of ["2300", "Galerie", "Paris", "4 2 4 2", "€"]) expect(text).not.toContain(detail);
  });

  it("repeats after no key with an apology instead of the greeting, and says so differently after a wrong key", () => {
    const again = checkCallNcco({ language: "en", vars: story, inputUrl, attempt: 2 });
    expect(again[0]).toMatchObject({ action: "talk", text: "Sorry, I did not hear a key." });
    expect(said(again)).not.toContain("Hello, this is");
    expect(said(again)).toContain("Did you pay €2300");
    expect(again.at(-1)).toMatchObject({ action: "input", eventUrl: [inputUrl] });
    const wrong = checkCallNcco({ language: "fr", vars: story, inputUrl, attempt: 2, heard: "other" });
    expect(wrong[0]).toMatchObject({ text: "Désolé, cette touche ne fait pas partie des choix." });
  });

  it("never says more of a card than its last four digits, wherever a card number is smuggled in", () => {
    const smuggled = { ...story, merchant: `SHOP ${PAN}`, city: `Paris ${PAN}`, pan: PAN } as TemplateVars;
    for (const language of LANGUAGES)
      for (const attempt of [1, 2] as const) {
        const text = heardDigits(said(checkCallNcco({ language, vars: smuggled, inputUrl, attempt })));
        expect(text).not.toContain(PAN.slice(0, 6));
        // The amount (2300) and the last four are the only digits, never five in a run.
        expect(text).not.toMatch(/\d{5,}/);
        expect(text).toContain("4242");
      }
    expect(() =>
      checkCallNcco({ language: "en", vars: { ...story, last4: PAN }, inputUrl, attempt: 1 }),
    ).toThrow("last4: exactly four digits");
  });

  it("reads no mark aloud: a card-network descriptor loses its star, link and phone number", () => {
    const text = said(
      checkCallNcco({
        language: "en",
        vars: { ...story, merchant: "PAYPAL *SHOP 4029357733 WWW.SHOP.COM/HELP" },
        inputUrl,
        attempt: 1,
      }),
    );
    expect(text).toContain("at PAYPAL SHOP SHOP, in Paris");
    expect(text).not.toMatch(/\*|www|\.com|4029/i);
  });

  it("refuses to call with part of the payment missing, rather than ask half a question", () => {
    const err = (() => {
      try {
        checkCallNcco({ language: "en", vars: { ...story, merchant: "" }, inputUrl, attempt: 1 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).message).toBe("voice en/check needs merchant");
    expect(() =>
      checkCallNcco({ language: "en", vars: { ...story, currency: undefined }, inputUrl, attempt: 1 }),
    ).toThrow("needs amount");
  });

  it("refuses an input URL Vonage could not post to", () => {
    for (const bad of ["/webhooks/vonage/voice/input", "ftp://x.example/input", "not a url"])
      expect(() => checkCallNcco({ language: "en", vars: story, inputUrl: bad, attempt: 1 })).toThrow(
        "inputUrl: an absolute http(s) URL",
      );
  });
});

describe("spokenAmount", () => {
  it.each([
    [2300, "EUR", "en-GB", "€2300"],
    [2300, "EUR", "fr-FR", "2300 €"],
    [2300.5, "EUR", "fr-FR", "2300,50 €"],
    [12.5, "USD", "en-US", "$12.50"],
    [1234567.89, "GBP", "en-GB", "£1234567.89"],
    [0, "EUR", "en-GB", "€0"],
  ])("%d %s in %s is %j: the symbol TTS expands to words, no grouping to split the number", (a, c, l, s) => {
    expect(spokenAmount(a, c, l)).toBe(s);
  });

  it("refuses a negative amount and a currency that is not ISO 4217", () => {
    expect(() => spokenAmount(-1, "EUR", "en-GB")).toThrow("amount: a finite, non-negative number");
    expect(() => spokenAmount(1, "euros", "en-GB")).toThrow("currency: an ISO 4217 code such as EUR");
  });
});

describe("spokenPhone", () => {
  it("reads a number digit by digit in its groups, an unspaced one in threes", () => {
    expect(spokenPhone("+44 20 7946 0000")).toBe("+ 4 4, 2 0, 7 9 4 6, 0 0 0 0");
    expect(spokenPhone("+442079460000")).toBe("+ 4 4 2, 0 7 9, 4 6 0, 0 0 0");
    expect(spokenPhone("0800 123 456")).toBe("0 8 0 0, 1 2 3, 4 5 6");
  });
});

describe("machineNcco", () => {
  it("leaves the bank's name and number twice and the warning about codes, and nothing about the payment", () => {
    for (const language of LANGUAGES) {
      const ncco = machineNcco({ language, bankName: story.bankName, bankPhone: story.bankPhone });
      expect(ncco).toHaveLength(1);
      const text = said(ncco);
      expect(text).toContain("Touchpoint Bank");
      expect(text.split("+ 4 4, 2 0, 7 9 4 6, 0 0 0 0")).toHaveLength(3);
      for (const detail of ["2300", "€", "Galerie", "Paris", "4 2 4 2", "Amara"])
        expect(text).not.toContain(detail);
    }
    expect(said(machineNcco({ language: "en", ...story }))).toMatch(
      /never ask you for a code or to move money/,
    );
  });

  it("takes nothing but the bank's name and number, even when handed the whole case", () => {
    const text = said(machineNcco({ language: "en", ...story } as Parameters<typeof machineNcco>[0]));
    expect(text).not.toMatch(/Galerie|Paris|2300|4 2 4 2/);
  });
});

describe("goodbyeNcco and noInputNcco", () => {
  it("thanks the customer who pressed 1: nothing more to do", () => {
    expect(goodbyeNcco({ language: "en", advocateName: "Amara Okafor" })).toEqual([
      {
        action: "talk",
        text: "Thank you for telling us it was you. There is nothing more to do: Amara Okafor has closed this. Goodbye.",
        language: "en-GB",
        bargeIn: false,
      },
    ]);
    expect(said(goodbyeNcco({ language: "fr", advocateName: "Amara" }))).toContain("Au revoir");
  });

  it("after a second silence, says we will be back in touch and gives the bank's number", () => {
    expect(said(noInputNcco({ language: "en", bankPhone: "+44 20 7946 0000" }))).toBe(
      "We did not hear a key, so we will get back to you. You can also call us on + 4 4, 2 0, 7 9 4 6, 0 0 0 0. Goodbye.",
    );
  });
});

describe("connectNcco", () => {
  it("says a short message, then connects to the advocate's number from the bank's", () => {
    const ncco = connectNcco({
      language: "en",
      endpoint: endpointFor("+447700900123"),
      from: "+442079460000",
      message: voiceText("connect_not_me", "en", story),
    });
    expect(ncco).toEqual([
      {
        action: "talk",
        text: "Thank you. We have blocked your card ending 4 2 4 2. I am putting you through to Amara Okafor now.",
        language: "en-GB",
        bargeIn: false,
      },
      {
        action: "connect",
        from: "442079460000",
        timeout: 30,
        endpoint: [{ type: "phone", number: "447700900123" }],
      },
    ]);
  });

  it("connects to a SIP address, with its own event URL, and says nothing when there is no message", () => {
    const ncco = connectNcco({
      language: "fr",
      endpoint: endpointFor("sip:amara@pbx.bank.example"),
      from: "442079460000",
      eventUrl: "https://touchpoint.example/webhooks/vonage/voice/event",
      timeoutSeconds: 20,
    });
    expect(ncco).toEqual([
      {
        action: "connect",
        from: "442079460000",
        timeout: 20,
        endpoint: [{ type: "sip", uri: "sip:amara@pbx.bank.example" }],
        eventUrl: ["https://touchpoint.example/webhooks/vonage/voice/event"],
      },
    ]);
  });

  it("says nothing about the case to someone who calls the bank before the advocate has them", () => {
    for (const language of LANGUAGES) {
      const text = voiceText("connect_caller", language, story);
      expect(text).toContain("Touchpoint Bank");
      expect(text).not.toMatch(/2300|Galerie|Paris|4 2 4 2|Amara|carte|card/i);
    }
  });

  it("refuses a caller id that is not a number", () => {
    expect(() =>
      connectNcco({ language: "en", endpoint: endpointFor("+447700900123"), from: "TPBank" }),
    ).toThrow(ValidationError);
  });
});

describe("endpointFor", () => {
  it.each([
    ["+447700900123", { type: "phone", number: "447700900123" }],
    ["+33612345678", { type: "phone", number: "33612345678" }],
    [" +15551234567 ", { type: "phone", number: "15551234567" }],
    ["sip:amara@pbx.bank.example", { type: "sip", uri: "sip:amara@pbx.bank.example" }],
    ["sips:fraud-team@sip.bank.example:5061", { type: "sip", uri: "sips:fraud-team@sip.bank.example:5061" }],
    ["sip:pbx.bank.example;transport=tls", { type: "sip", uri: "sip:pbx.bank.example;transport=tls" }],
  ])("%j is %j", (input, endpoint) => {
    expect(endpointFor(input)).toEqual(endpoint);
  });

  it.each([
    "447700900123",
    "+0447700900123",
    "+44 7700 900123",
    "+44770090012345678",
    "tel:+447700900123",
    "sip:",
    "sip:amara@",
    "sip:amara @pbx.example",
    "https://pbx.example",
    "",
  ])("refuses %j, naming the field", (input) => {
    try {
      endpointFor(input);
      throw new Error("expected a ValidationError");
    } catch (err) {
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as ValidationError).issues[0]?.path).toBe("phone");
    }
  });
});

describe("parseKeypad", () => {
  const body = (dtmf: object) => ({
    speech: { results: [] },
    dtmf,
    from: "447700900123",
    to: "442079460000",
    uuid: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    conversation_uuid: "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    timestamp: "2026-12-06T10:00:00.000Z",
  });

  it.each([
    ["1", "yes"],
    ["2", "no"],
    ["0", "agent"],
    ["5", "other"],
    ["*", "other"],
    ["12", "other"],
  ])("key %j is %j", (digits, kind) => {
    expect(parseKeypad(body({ digits, timed_out: false }))).toEqual({
      kind,
      digits,
      timedOut: false,
      uuid: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
      conversationUuid: "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    });
  });

  it("takes a timed-out input, with empty or null digits, as no key", () => {
    expect(parseKeypad(body({ digits: "", timed_out: true }))).toMatchObject({
      kind: "none",
      timedOut: true,
    });
    expect(parseKeypad(body({ digits: null, timed_out: true }))).toMatchObject({ kind: "none", digits: "" });
    expect(parseKeypad(body({ timed_out: true }))).toMatchObject({ kind: "none" });
  });

  it("refuses a body that is not a keypad answer", () => {
    for (const garbage of [
      null,
      "1",
      [],
      {},
      { dtmf: { digits: "1" } },
      { uuid: "u1", dtmf: "1" },
      { uuid: "u1", dtmf: { digits: 1 } },
      { uuid: "", dtmf: { digits: "1" } },
    ])
      expect(() => parseKeypad(garbage)).toThrow(ValidationError);
  });
});

describe("parseCallEvent", () => {
  const ids = {
    uuid: "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    conversation_uuid: "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    from: "442079460000",
    to: "447700900123",
    direction: "outbound",
    timestamp: "2026-12-06T10:00:00.000Z",
  };

  it("reads every call state Vonage posts, each known, the ends of a call marked final", () => {
    const finals = ["busy", "cancelled", "unanswered", "rejected", "failed", "timeout", "completed"];
    for (const status of CALL_STATUSES) {
      const e = parseCallEvent({ ...ids, status });
      expect(e).toMatchObject({ known: true, status, uuid: ids.uuid, final: finals.includes(status) });
    }
  });

  it("reads a completed call's duration in seconds and keeps its ids, numbers and time", () => {
    expect(
      parseCallEvent({
        ...ids,
        status: "completed",
        duration: "47",
        price: "0.00510000",
        rate: "0.00640000",
        start_time: "2026-12-06T10:00:00.000Z",
        end_time: "2026-12-06T10:00:47.000Z",
        network: "23410",
      }),
    ).toEqual({
      known: true,
      status: "completed",
      uuid: ids.uuid,
      conversationUuid: ids.conversation_uuid,
      direction: "outbound",
      from: ids.from,
      to: ids.to,
      timestamp: ids.timestamp,
      durationSeconds: 47,
      final: true,
    });
  });

  it("reads machine detection's verdicts, the beep included, from call_uuid as well as uuid", () => {
    expect(parseCallEvent({ call_uuid: ids.uuid, status: "human", timestamp: ids.timestamp })).toMatchObject({
      known: true,
      status: "human",
      uuid: ids.uuid,
      final: false,
    });
    expect(parseCallEvent({ ...ids, status: "machine", sub_state: "beep_start" })).toMatchObject({
      status: "machine",
      subState: "beep_start",
    });
  });

  it("drops a direction it does not know rather than refuse the event", () => {
    const e = parseCallEvent({ ...ids, status: "ringing", direction: "sideways" });
    expect(e).toMatchObject({ known: true, status: "ringing" });
    expect(e).not.toHaveProperty("direction");
  });

  it("keeps why a call failed", () => {
    expect(parseCallEvent({ ...ids, status: "failed", detail: "invalid_number" })).toMatchObject({
      status: "failed",
      detail: "invalid_number",
      final: true,
    });
  });

  it("keeps a status it does not know, and a notice with none, flagged as unknown", () => {
    expect(parseCallEvent({ ...ids, status: "on_hold" })).toMatchObject({
      known: false,
      status: "on_hold",
      final: false,
    });
    expect(
      parseCallEvent({
        conversation_uuid_from: "CON-1",
        conversation_uuid_to: "CON-2",
        uuid: ids.uuid,
        timestamp: ids.timestamp,
      }),
    ).toMatchObject({ known: false, status: "", uuid: ids.uuid });
  });

  it("refuses a known state without the call it is about, and a body that is not an event", () => {
    expect(() => parseCallEvent({ status: "answered", conversation_uuid: "CON-1" })).toThrow(
      'uuid: required on a "answered" event',
    );
    for (const garbage of [null, "completed", [], { ...ids, status: 3 }, { ...ids, duration: "a while" }])
      expect(() => parseCallEvent(garbage)).toThrow(ValidationError);
  });
});

describe("the voice words in the template files", () => {
  const allowed = ["bankName", "bankPhone", "advocateName", "merchant", "city", "amount", "last4"];

  it("has every kind in every language, as written in templates/<lang>.json", () => {
    for (const lang of LANGUAGES) {
      const file = JSON.parse(readFileSync(new URL(`./templates/${lang}.json`, import.meta.url), "utf8"));
      expect(Object.keys(file.voice).sort()).toEqual([...VOICE_KINDS].sort());
    }
  });

  it("uses no variable but the known ones, and puts payment details only in the check and the blocked card", () => {
    for (const lang of LANGUAGES) {
      const file = JSON.parse(readFileSync(new URL(`./templates/${lang}.json`, import.meta.url), "utf8"));
      for (const kind of VOICE_KINDS) {
        const names = templateVariables(file.voice[kind]);
        for (const name of names) expect(allowed).toContain(name);
        const payment = names.filter((n) => ["amount", "merchant", "city", "last4"].includes(n));
        if (kind === "check") expect(payment.sort()).toEqual(["amount", "city", "last4", "merchant"]);
        else if (kind === "connect_not_me") expect(payment).toEqual(["last4"]);
        else expect(payment).toEqual([]);
      }
    }
  });

  it("renders every kind in every language from the full story, with no link and no number but the bank's", () => {
    for (const lang of LANGUAGES)
      for (const kind of VOICE_KINDS) {
        const text = voiceText(kind, lang, story);
        expect(text.length).toBeGreaterThan(10);
        expect(text).not.toMatch(/\{\{|https?:|www\./);
        expect(heardDigits(text.replaceAll(spokenPhone(story.bankPhone), ""))).not.toMatch(/\d{5,}/);
      }
  });
});
