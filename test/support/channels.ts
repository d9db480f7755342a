/**
 * What the channels' end-to-end tests share (test/channels*.test.ts): a touchpoint with every
 * channel configured against the fake Vonage, advocates with phones, impossible travellers whose
 * cases are high, and the customer's side of a call (the keypad), signed as Vonage signs.
 */
import { expect } from "vitest";
import { eventually, type Json, openCaseWith } from "../../fixtures/stories.ts";
import { type FakeVonage, signedPost, testApplicationKey, vonageEnv } from "./fake-vonage.ts";
import type { TestTouchpoint } from "./harness.ts";

export const SECRET = "test-signature-secret-0123456789";
export const PUBLIC_URL = "https://tp.bank.example";
export const TEAM_LINE = "+442079460999";
export const PHNOM_PENH = { city: "Phnom Penh", country: "KH", lat: 11.5564, lon: 104.9282 };
export const PARIS = { city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 };

/** A card payment of 640 EUR at "Maison Test" with the card ending 4821. */
export const tx = (id: string, customerId: string, occurredAt: string, place: typeof PARIS) => ({
  id,
  type: "card.transaction",
  occurredAt,
  customerId,
  card: { id: `${customerId}-card`, last4: "4821" },
  amount: { value: 640, currency: "EUR" },
  merchant: { name: "Maison Test", mcc: "5311", ...place },
  channel: "card_present",
});

/** Every channel configured, pointed at `fake`: WhatsApp, automated calls (after 0.04 min), a team line. */
export function channelsEnv(fake: FakeVonage, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...vonageEnv(fake, SECRET),
    VONAGE_APPLICATION_ID: "app-test-1",
    VONAGE_PRIVATE_KEY: testApplicationKey(),
    PUBLIC_URL,
    VOICE_AFTER_MINUTES: "0.04",
    WHATSAPP_FROM: "+447700900000",
    TEAM_LINES: `*=${TEAM_LINE}`,
    ...extra,
  };
}

/** Each fixture advocate can be put through to on a number of their own. */
export async function givePhones(t: TestTouchpoint): Promise<void> {
  for (const [i, a] of (await t.api("GET", "/v1/advocates")).body.items.entries()) {
    const { id, open: _open, ...rest } = a as Json;
    const put = await t.api("PUT", `/v1/advocates/${id}`, { ...rest, phone: `+4420794601${10 + i}` });
    expect(put.status).toBe(200);
  }
}

export function channelHelpers(t: () => TestTouchpoint, fake: () => FakeVonage) {
  const caseById = async (id: string): Promise<Json> => (await t().api("GET", `/v1/cases/${id}`)).body;
  const kinds = (c: Json): string[] => c.timeline.map((s: { kind: string }) => s.kind);
  const to = (digits: string) => fake().messages.filter((m) => m.to === digits);
  const callsTo = (digits: string) => fake().calls.filter((c) => c.to === digits);

  async function putCustomer(id: string, phone: string, channels?: string[]) {
    const put = await t().api("PUT", `/v1/customers/${id}`, {
      name: `Sam ${id}`,
      phone,
      homeCountry: "FR",
      ...(channels ? { channels } : {}),
    });
    expect(put.status).toBeLessThan(300);
  }
  /** Paris, then Phnom Penh 1 h 30 later: an open impossible-travel case (high severity). */
  async function openTravel(id: string) {
    await t().api("POST", "/v1/events", [
      tx(`${id}-a`, id, "2026-11-22T09:10:00Z", PARIS),
      tx(`${id}-b`, id, "2026-11-22T10:40:00Z", PHNOM_PENH),
    ]);
    return openCaseWith(t().api, id, ["impossible-location-spend"]);
  }
  async function travellerCase(id: string, phone: string, channels?: string[]) {
    await putCustomer(id, phone, channels);
    return openTravel(id);
  }
  /** The automated call to `digits` (E.164 without +), once placed. */
  const callOf = async (digits: string) =>
    (await eventually(async () => (callsTo(digits).length > 0 ? callsTo(digits) : undefined), 20_000))[0]!;
  /**
   * The customer presses `digits` (or nothing) on the automated call: posted where the call's NCCO
   * says (its keypad URL), with `caseId` and `attempt` as given (a test may forge them).
   */
  function press(caseId: string, uuid: string, digits: string, attempt = 1) {
    const input = (fake().calls.find((c) => c.uuid === uuid)?.ncco as Json[] | undefined)?.find(
      (a) => a.action === "input",
    );
    const url = new URL(input?.eventUrl?.[0] ?? `${PUBLIC_URL}/webhooks/vonage/voice/input`);
    url.searchParams.set("case", caseId);
    url.searchParams.set("attempt", String(attempt));
    return signedPost(t().tp.app!, SECRET, `${url.pathname}${url.search}`, {
      dtmf: { digits, timed_out: digits === "" },
      uuid,
      conversation_uuid: fake().calls.find((c) => c.uuid === uuid)?.conversationUuid ?? `CON-${uuid}`,
      from: "447700900001",
      to: "33612349999",
      timestamp: new Date().toISOString(),
    });
  }
  /** Where Vonage posts a call's states: the event URL touchpoint gave the call. */
  const eventPath = (call: { eventUrl?: string[] }) => {
    const u = new URL(call.eventUrl![0]!);
    return `${u.pathname}${u.search}`;
  };
  return { caseById, kinds, to, callsTo, putCustomer, openTravel, travellerCase, callOf, press, eventPath };
}
