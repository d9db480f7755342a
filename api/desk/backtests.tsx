/**
 * A backtest's report on the desk, as the API gives it (`GET /v1/backtests/:id`): what the tried
 * files change against the published rules (payments newly flagged, no longer flagged), then each
 * rule's matched payments with both amounts, merchant, place and known outcome, and the money
 * involved in the customers' home currency. The Rules page lists the recent ones.
 */
import type { FC } from "hono/jsx";
import type { BacktestReport, KnownOutcome, Matches, RuleScore } from "../../engine/backtest.ts";
import type { BacktestRow } from "../../engine/store/backtests.ts";
import { When } from "./layout.tsx";

const OUTCOME: Record<KnownOutcome, string> = {
  confirmed_fraud: "confirmed fraud",
  false_alarm: "false alarm",
  open: "case open",
  none: "no case",
};

const amount = (m: { value: number; currency: string } | null) =>
  m
    ? `${m.value.toLocaleString("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 })} ${m.currency}`
    : "—";

const pct = (p: number | null) => (p === null ? "—" : `${Math.round(p * 100)}%`);

/** The money of a list, one line per home currency. */
export const MoneyOf: FC<{ m: Matches }> = ({ m }) => (
  <ul class="money">
    {m.money.map((x) => (
      <li>
        <b>{amount({ value: x.total, currency: x.currency })}</b> over {x.payments} payment(s): confirmed
        fraud {amount({ value: x.confirmedFraud, currency: x.currency })}, false alarms{" "}
        {amount({ value: x.falseAlarms, currency: x.currency })}, cases open{" "}
        {amount({ value: x.open, currency: x.currency })}
      </li>
    ))}
    {m.unconverted > 0 ? (
      <li class="muted">{m.unconverted} payment(s) with no home amount (unknown customer or rate)</li>
    ) : null}
    {m.money.length === 0 && m.unconverted === 0 ? <li class="muted">No payments.</li> : null}
  </ul>
);

/** The events of a list, one row each (a card each on a phone), and how many it left out. */
export const MatchedTable: FC<{ m: Matches; rules?: Record<string, string[]> }> = ({ m, rules }) =>
  m.listed.length === 0 ? null : (
    <>
      <table class="cards">
        <thead>
          <tr>
            <th>Event</th>
            <th>Customer</th>
            <th>Time</th>
            <th>Amount</th>
            <th>Home currency</th>
            <th>Merchant</th>
            <th>Place</th>
            <th>Known outcome</th>
            {rules ? <th>Flagged by</th> : null}
          </tr>
        </thead>
        <tbody>
          {m.listed.map((e) => (
            <tr>
              <td data-label="Event">
                <code>{e.id}</code>
              </td>
              <td data-label="Customer">{e.customerId}</td>
              <td data-label="Time">
                <When at={e.occurredAt} />
              </td>
              <td data-label="Amount">{amount(e.amount)}</td>
              <td data-label="Home currency">{amount(e.home)}</td>
              <td data-label="Merchant">{e.merchant ?? "—"}</td>
              <td data-label="Place">
                {e.place ? [e.place.city, e.place.country].filter(Boolean).join(", ") : "—"}
              </td>
              <td data-label="Known outcome">
                {e.caseId ? `${OUTCOME[e.outcome]} (${e.caseId})` : OUTCOME[e.outcome]}
              </td>
              {rules ? <td data-label="Flagged by">{(rules[e.id] ?? []).join(", ")}</td> : null}
            </tr>
          ))}
        </tbody>
      </table>
      {m.count > m.listed.length ? (
        <p class="muted">
          The first {m.listed.length} of {m.count}, in event time; the sums count them all.
        </p>
      ) : null}
    </>
  );

const RuleSection: FC<{ s: RuleScore; was?: RuleScore | undefined }> = ({ s, was }) => (
  <section class="card" id={`rule-${s.rule}`}>
    <h3>
      {s.rule} {s.mode === "shadow" ? <span class="pill">shadow</span> : null}{" "}
      <span class={s.change === "unchanged" ? "muted" : "pill"}>{s.change}</span>
    </h3>
    <p>
      {s.hits} hit(s) on {s.customers} customer(s) · precision {pct(s.precision)} ({s.confirmed} confirmed,{" "}
      {s.falseAlarms} false alarms)
      {was ? ` · published: ${was.hits} hit(s), precision ${pct(was.precision)}` : ""}
    </p>
    <MoneyOf m={s.matched} />
    <MatchedTable m={s.matched} />
  </section>
);

/** The whole report of a finished backtest; its progress while it runs. */
export const BacktestView: FC<{ b: BacktestRow }> = ({ b }) => {
  const r = b.report as (Omit<BacktestReport, "changes"> & Partial<Pick<BacktestReport, "changes">>) | null;
  if (!r) {
    return (
      <div class="card">
        <p>
          <b>{b.status}</b>
          {b.total !== null ? ` · ${b.done} of ${b.total} events` : ""}
          {b.error ? <span class="warn"> · {b.error}</span> : null}
        </p>
        {b.status === "queued" || b.status === "running" ? (
          <p class="muted">Reload the page to see how far it has gone.</p>
        ) : null}
      </div>
    );
  }
  // A report stored before reports listed events has neither lists nor changes: its counts show.
  if (!r.changes) {
    return (
      <div class="card">
        <p>
          {r.events} events replayed against published version {b.publishedVersion}. This report was made
          before backtests listed the events they matched; its counts are in{" "}
          <code>GET /v1/backtests/{b.id}</code>.
        </p>
      </div>
    );
  }
  const published = new Map(r.published.map((s) => [s.rule, s]));
  const differing = r.candidate.filter((s) => s.change !== "unchanged");
  const removed = r.published.filter((s) => s.change === "removed");
  const unchanged = r.candidate.filter((s) => s.change === "unchanged");
  return (
    <>
      <p class="muted">
        {r.events} events replayed{r.truncated ? " (stopped at the limit)" : ""} against published version{" "}
        {b.publishedVersion}, requested by {b.requestedBy}, finished <When at={b.finishedAt} />. Lists hold
        the first {r.listedPerRule} matches in event time; counts and sums hold them all. Amounts in the home
        currency are the customer's, at the rates table's rates.
      </p>
      <div class="card">
        <h2>What changes against the published rules</h2>
        <h3>Newly flagged: {r.changes.newlyFlagged.count} event(s)</h3>
        <MoneyOf m={r.changes.newlyFlagged} />
        <MatchedTable m={r.changes.newlyFlagged} rules={r.changes.newlyFlagged.rules} />
        <h3>No longer flagged: {r.changes.noLongerFlagged.count} event(s)</h3>
        <MoneyOf m={r.changes.noLongerFlagged} />
        <MatchedTable m={r.changes.noLongerFlagged} rules={r.changes.noLongerFlagged.rules} />
      </div>
      <h2>Rules the tried files add or change</h2>
      {differing.length === 0 ? <p class="muted">None: the tried rules equal the published ones.</p> : null}
      {differing.map((s) => (
        <RuleSection s={s} was={published.get(s.rule)} />
      ))}
      {removed.map((s) => (
        <section class="card">
          <h3>
            {s.rule} <span class="pill">removed</span>
          </h3>
          <p>Matched {s.hits} event(s) in the published version.</p>
          <MoneyOf m={s.matched} />
          <MatchedTable m={s.matched} />
        </section>
      ))}
      {unchanged.length > 0 ? (
        <>
          <h2>Unchanged rules</h2>
          <p class="muted">They match the same payments on both sides.</p>
          {unchanged.map((s) => (
            <RuleSection s={s} />
          ))}
        </>
      ) : null}
    </>
  );
};
