/** Card payments at known places, for suites that need a journey: one way to write them. */
import { type Api, openCaseWith } from "../../fixtures/stories.ts";

export const PARIS = { city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 };
export const PHNOM_PENH = { city: "Phnom Penh", country: "KH", lat: 11.5564, lon: 104.9282 };

export const LYON = { city: "Lyon", country: "FR", lat: 45.76, lon: 4.83 };
export const BANGKOK = { city: "Bangkok", country: "TH", lat: 13.7563, lon: 100.5018 };

/** A card payment by `customerId` at `place`: 25 EUR in a shop unless `over` says otherwise. */
export const tx = (
  id: string,
  customerId: string,
  occurredAt: string,
  place: { city: string; country: string; lat: number; lon: number },
  over: { amount?: { value: number; currency: string }; channel?: "card_present" | "atm" | "ecommerce" } = {},
) => ({
  id,
  type: "card.transaction",
  occurredAt,
  customerId,
  card: { id: `${customerId}-card`, last4: "4242" },
  amount: over.amount ?? { value: 25, currency: "EUR" },
  merchant: { name: "Shop", mcc: "5411", ...place },
  channel: over.channel ?? "card_present",
});

/**
 * A new customer (`person` gives their name and home) who pays in Paris and, an hour later, in
 * Phnom Penh on `day`: resolves with the case the journey opened.
 */
export async function openTravelCase(
  api: Api,
  customerId: string,
  phone: string,
  person: { name?: string; homeCountry?: string; day?: string } = {},
) {
  await api("PUT", `/v1/customers/${customerId}`, {
    name: person.name ?? `Customer ${customerId}`,
    phone,
    homeCountry: person.homeCountry ?? "FR",
  });
  const day = person.day ?? "2026-11-20";
  await api("POST", "/v1/events", [
    tx(`${customerId}-a1`, customerId, `${day}T09:10:00Z`, PARIS),
    tx(`${customerId}-a2`, customerId, `${day}T10:10:00Z`, PHNOM_PENH),
  ]);
  return openCaseWith(api, customerId, ["impossible-location-spend"]);
}

/** A first impossible journey for a new customer, its case handled and closed; returns its advocate. */
export async function firstCaseHandled(api: Api, customerId: string, phone: string) {
  const first = await openTravelCase(api, customerId, phone);
  await api("POST", `/v1/cases/${first.id}/resolve`, { outcome: "false_alarm" });
  return first.advocate as { id: string; name: string };
}
