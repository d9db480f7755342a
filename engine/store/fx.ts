/** The bank's exchange rates (PUT /v1/fx-rates), over the shipped default for currencies it did not send. */
import { defaultFxTable, type FxRate, type FxTable } from "../features/money.ts";
import type { Q } from "./database.ts";

/** The table in force: the bank's rates, and the shipped default's for any currency it has not sent. */
export async function fxTable(sql: Q): Promise<FxTable> {
  const table = new Map<string, FxRate>(defaultFxTable());
  for (const r of await sql`select currency, per_eur, to_char(as_of, 'YYYY-MM-DD') as as_of from fx_rates`) {
    table.set(r.currency as string, { perEur: r.per_eur as number, asOf: r.as_of as string });
  }
  return table;
}

/** Every rate in force with where it comes from, for people to check. */
export async function fxRates(sql: Q) {
  const ours = new Set((await sql`select currency from fx_rates`).map((r) => r.currency as string));
  return [...(await fxTable(sql)).entries()]
    .map(([currency, r]) => ({
      currency,
      perEur: r.perEur,
      asOf: r.asOf,
      source: ours.has(currency) ? "bank" : "shipped",
    }))
    .sort((a, b) => a.currency.localeCompare(b.currency));
}

/** Sets the given currencies' rates (the others keep theirs); a rate older than the one held is ignored. */
export async function putFxRates(
  sql: Q,
  rates: Record<string, number>,
  asOf: string,
  by: string,
): Promise<number> {
  const rows = Object.entries(rates).map(([currency, perEur]) => ({
    currency,
    per_eur: perEur,
    as_of: asOf,
    updated_by: by,
  }));
  if (rows.length === 0) return 0;
  await sql`
    insert into fx_rates ${sql(rows, "currency", "per_eur", "as_of", "updated_by")}
    on conflict (currency) do update set per_eur = excluded.per_eur, as_of = excluded.as_of,
      updated_by = excluded.updated_by, updated_at = now()
    where fx_rates.as_of <= excluded.as_of`;
  return rows.length;
}
