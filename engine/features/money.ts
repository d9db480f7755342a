/**
 * Amounts in the customer's home currency: a rates table (units of each currency per one euro,
 * each with the date the bank's feed set it) and the conversion. Pure. The table the bank keeps
 * current lives in Postgres (PUT /v1/fx-rates); until it sends one, the shipped default holds.
 */
import shipped from "./fx-default.json" with { type: "json" };

export interface FxRate {
  /** Units of the currency for one euro. */
  perEur: number;
  /** The date the rate is of, YYYY-MM-DD. */
  asOf: string;
}

export type FxTable = ReadonlyMap<string, FxRate>;

/** The shipped table: approximate rates, dated, for a first run; replace it with the bank's own. */
export function defaultFxTable(): FxTable {
  return new Map(Object.entries(shipped.rates).map(([c, perEur]) => [c, { perEur, asOf: shipped.asOf }]));
}

/**
 * `value` in `from` converted to `to`, rounded to the cent, with the date of the older rate it
 * used (the euro, the base, uses none; the same currency uses none: `asOf` null); undefined when
 * a rate is missing.
 */
export function convert(
  value: number,
  from: string,
  to: string,
  table: FxTable,
): { value: number; asOf: string | null } | undefined {
  if (from === to) return { value, asOf: null };
  const a = from === "EUR" ? { perEur: 1, asOf: null } : table.get(from);
  const b = to === "EUR" ? { perEur: 1, asOf: null } : table.get(to);
  if (!a || !b || a.perEur <= 0) return undefined;
  const dates = [a.asOf, b.asOf].filter((d): d is string => d !== null).sort();
  return { value: Math.round((value / a.perEur) * b.perEur * 100) / 100, asOf: dates[0] ?? null };
}
