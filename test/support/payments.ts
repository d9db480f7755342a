/** Card payments at known places, for suites that need a journey: one way to write them. */

export const PARIS = { city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 };
export const PHNOM_PENH = { city: "Phnom Penh", country: "KH", lat: 11.5564, lon: 104.9282 };

/** A 25 EUR card-present payment by `customerId` at `place`. */
export const tx = (
  id: string,
  customerId: string,
  occurredAt: string,
  place: { city: string; country: string; lat: number; lon: number },
) => ({
  id,
  type: "card.transaction",
  occurredAt,
  customerId,
  card: { id: `${customerId}-card`, last4: "4242" },
  amount: { value: 25, currency: "EUR" },
  merchant: { name: "Shop", mcc: "5411", ...place },
  channel: "card_present",
});
