/**
 * The experience page (`/desk/experience`): what the bank's outreach did to its customers over a
 * window, for supervisors and the risk team — the headline figures, then plots drawn on the
 * server (plots.tsx), each with its sentence and its numbers as a table. The report itself comes
 * from a function passed in (`ExperienceSource`): the page draws, it does not compute.
 */
import { Hono } from "hono";
import type { Child } from "hono/jsx";
import type { ExperienceWindow } from "../../engine/experience/figures.ts";
import type { ExperienceReport, FeedbackGroup, Percentiles } from "../../engine/experience/report.ts";
import type { Sql } from "../../engine/store/database.ts";
import { advocateTeams } from "../../engine/store/people.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import { Layout, When } from "./layout.tsx";
import { DayBars, DayLine, dayWords, RowBars } from "./plots.tsx";
import type { DeskEnv } from "./session.tsx";
import { teamOf, whoOf } from "./words.tsx";

/** Where the report comes from: `experienceReport(sql, window, now)` in the running product. */
export type ExperienceSource = (window: ExperienceWindow) => Promise<ExperienceReport>;

/** The roles that read the page: the ones that answer for how customers are treated. */
const READERS: readonly string[] = ["supervisor", "admin", "risk"];

const DAY_MS = 86_400_000;
/** The longest window the page asks for, days: a year and a day, so "the last 12 months" fits. */
const MAX_DAYS = 367;

/** The picker's windows: days back from today, today included. */
const PRESETS: Array<[string, number]> = [
  ["today", 1],
  ["7 days", 7],
  ["30 days", 30],
];

const isoDay = (d: Date) => d.toISOString().slice(0, 10);
const midnight = (d: Date) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));

/** A preset's window: `days` UTC days ending with today's. */
function preset(days: number, now: Date): { since: Date; until: Date } {
  const until = new Date(midnight(now).getTime() + DAY_MS);
  return { since: new Date(until.getTime() - days * DAY_MS), until };
}

/** A query's date: `YYYY-MM-DD` (that day's UTC midnight) or a full ISO instant. */
function readDate(v: string | undefined): Date | undefined {
  if (!v) return undefined;
  const d = new Date(/^\d{4}-\d\d-\d\d$/.test(v) ? `${v}T00:00:00Z` : v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * The window a query asks for (`since`, `until` exclusive), or the last 7 days with a word on
 * why when it is missing, unreadable, backwards or longer than a year.
 */
export function windowOf(
  query: { since?: string | undefined; until?: string | undefined },
  now: Date,
): { since: Date; until: Date; note?: string } {
  const since = readDate(query.since);
  const until = readDate(query.until);
  if (query.since === undefined && query.until === undefined) return preset(7, now);
  const fallback = preset(7, now);
  if (!since || !until)
    return { ...fallback, note: "That window could not be read: the last 7 days instead." };
  if (until <= since)
    return { ...fallback, note: "That window ends before it starts: the last 7 days instead." };
  if (until.getTime() - since.getTime() > MAX_DAYS * DAY_MS)
    return { ...fallback, note: "At most a year at a time: the last 7 days instead." };
  return { since, until };
}

const monthDay = (d: Date, year: boolean) =>
  d.toLocaleDateString("en-GB", {
    day: "numeric",
    month: "short",
    ...(year ? { year: "numeric" } : {}),
    timeZone: "UTC",
  });

/** A window in words, its end exclusive: "1–7 Dec", "28 Nov – 4 Dec", "6 Dec". */
export function windowWords(since: string | Date, until: string | Date): string {
  const a = new Date(since);
  const b = new Date(new Date(until).getTime() - 1);
  if (Number.isNaN(a.getTime()) || Number.isNaN(b.getTime())) return "this window";
  const [ad, bd] = [isoDay(a), isoDay(b)];
  if (bd <= ad) return monthDay(a, false);
  if (ad.slice(0, 4) !== bd.slice(0, 4)) return `${monthDay(a, true)} – ${monthDay(b, true)}`;
  if (ad.slice(0, 7) === bd.slice(0, 7)) return `${a.getUTCDate()}–${monthDay(b, false)}`;
  return `${monthDay(a, false)} – ${monthDay(b, false)}`;
}

/** Seconds as people say them: "45 s", "4 min", "1 h 20 min", "2 d 3 h"; "—" for nothing measured. */
export function duration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return "—";
  // Under a second reads as such: "0 s" beside a plot at 0.4 s says nothing happened.
  if (seconds > 0 && seconds < 0.5) return "under 1 s";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** The unit a time axis reads best in, for durations up to `most` seconds. */
function timeUnit(most: number): { seconds: number; word: string } {
  if (most < 120) return { seconds: 1, word: "s" };
  if (most < 2 * 3600) return { seconds: 60, word: "min" };
  if (most < 2 * 86_400) return { seconds: 3600, word: "h" };
  return { seconds: 86_400, word: "d" };
}

// A figure the report could not measure reads "—", never "NaN".
const percent = (share: number | null) =>
  share === null || !Number.isFinite(share) ? "—" : `${Math.round(share * 100)}%`;
const mean1 = (n: number | null) => (n === null || !Number.isFinite(n) ? "—" : n.toFixed(1));
const plural = (n: number, one: string, many = `${one}s`) =>
  `${n.toLocaleString("en-GB")} ${n === 1 ? one : many}`;

function Stat({ label, value, detail }: { label: string; value: string; detail?: string }) {
  return (
    <div class="stat">
      <dt>{label}</dt>
      <dd>
        <span class="big">{value}</span>
        {detail ? <span class="muted small"> {detail}</span> : null}
      </dd>
    </div>
  );
}

const spread = (p: Percentiles, keys: Array<"p50" | "p90" | "p99">) =>
  keys.map((k) => `${k} ${duration(p[k])}`).join(" · ");

/** The headline figures, as a definition list. */
function Headline({ r }: { r: ExperienceReport }) {
  const first = r.timeToFirstContact;
  return (
    <dl class="stats">
      <Stat label="Cases" value={r.cases.toLocaleString("en-GB")} detail="opened" />
      <Stat
        label="Time to first contact"
        value={duration(first.p50)}
        detail={`p50 over ${plural(first.count, "case")}; ${spread(first, ["p90", "p99"])}; ${first.deferredByQuietHours} deferred by quiet hours`}
      />
      <Stat
        label="Resolved by the customer"
        value={percent(r.resolvedByCustomer.share)}
        detail={`${r.resolvedByCustomer.count} of ${plural(r.resolvedByCustomer.of, "resolved case")}`}
      />
      <Stat
        label="Contacts per case"
        value={mean1(r.contactsPerCase.mean)}
        detail={`mean; at most ${r.contactsPerCase.max}, ${plural(r.contactsPerCase.casesAtCap, "case")} at the cap`}
      />
      <Stat
        label="Same advocate as before"
        value={percent(r.sameAdvocate.share)}
        detail={`${r.sameAdvocate.count} of ${r.sameAdvocate.of} returning customers' cases`}
      />
      <Stat
        label="Time to resolution"
        value={duration(r.timeToResolution.p50)}
        detail={`p50 over ${plural(r.timeToResolution.count, "case")}; ${spread(r.timeToResolution, ["p90"])}`}
      />
      <Stat
        label="Opt-outs after contact"
        value={r.optOutsAfterContact.toLocaleString("en-GB")}
        detail="customers who texted STOP"
      />
      <Stat
        label="Satisfaction"
        value={r.feedback.mean === null ? "—" : `${mean1(r.feedback.mean)} / 5`}
        detail={`${plural(r.feedback.answered, "answer")} of ${r.feedback.asked} asked`}
      />
    </dl>
  );
}

/** A plot in its frame: heading, its sentence, the plot (or why there is none) and its numbers. */
function Figure({
  title,
  sentence,
  plot,
  empty,
  table,
}: {
  title: string;
  sentence: string;
  plot: Child;
  /** What to say instead of a plot with nothing in it. */
  empty: string;
  table: { head: string[]; rows: Array<Array<string | number>> };
}) {
  return (
    <figure class="card fig">
      <figcaption>
        <h2>{title}</h2>
        <p>{sentence}</p>
      </figcaption>
      {plot ?? <p class="muted empty">{empty}</p>}
      {plot && table.rows.length > 0 ? (
        <details>
          <summary>The numbers</summary>
          <table>
            <thead>
              <tr>
                {table.head.map((h) => (
                  <th scope="col">{h}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {table.rows.map((row) => (
                <tr>
                  {row.map((v) => (
                    <td>{v}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </details>
      ) : null}
    </figure>
  );
}

function satisfaction(title: string, groups: FeedbackGroup[], when: string, who: string) {
  const rows = groups.filter((g) => g.mean !== null && g.answered > 0);
  const answers = rows.reduce((n, g) => n + g.answered, 0);
  const sentence =
    rows.length === 0
      ? `No answers by ${who}, ${when}`
      : `Mean score (1–5) of ${plural(rows.length, who.replace(/s$/, ""), who)} over ${plural(answers, "answer")}, ${when}`;
  return (
    <Figure
      title={title}
      sentence={sentence}
      plot={RowBars({
        rows: rows.map((g) => ({
          name: g.name ?? g.key,
          value: g.mean ?? 0,
          figure: mean1(g.mean),
          note: plural(g.answered, "answer"),
        })),
        max: 5,
        label: `${title}: ${sentence}`,
      })}
      empty={`No customer answered the feedback question, ${when}.`}
      table={{
        head: [who === "teams" ? "Team" : "Advocate", "Mean (1–5)", "Answers"],
        rows: rows.map((g) => [g.name ?? g.key, mean1(g.mean), g.answered]),
      }}
    />
  );
}

/** The plots, in the order a supervisor asks: how fast, how settled, how liked, at what cost. */
function Figures({ r }: { r: ExperienceReport }) {
  const when = windowWords(r.window.since, r.window.until);
  const first = r.timeToFirstContact;
  const unit = timeUnit(Math.max(0, ...r.days.map((d) => d.firstContactP50 ?? 0)));
  const firstSentence =
    first.count === 0
      ? `No case contacted, ${when}`
      : `p50 ${duration(first.p50)} over ${plural(first.count, "case")}, ${when}`;
  const settled = r.resolvedByCustomer;
  const resolvedSentence =
    settled.of === 0
      ? `No case resolved, ${when}`
      : `${percent(settled.share)} of ${plural(settled.of, "resolved case")} settled by the customer alone, ${when}`;
  const costly = [...r.perRule].sort(
    (a, b) => b.customersContactedForNothing - a.customersContactedForNothing,
  );
  const nothing = costly.reduce((n, c) => n + c.customersContactedForNothing, 0);
  const costSentence =
    costly.length === 0
      ? `No rule's case ended a false alarm, ${when}`
      : nothing === 0
        ? `No customer contacted for nothing, ${when}`
        : `${plural(nothing, "customer")} contacted for nothing by ${plural(costly.filter((c) => c.customersContactedForNothing > 0).length, "rule")}, ${when}`;
  return (
    <div class="figs">
      <Figure
        title="Time to first contact"
        sentence={firstSentence}
        plot={DayLine({
          points: r.days.map((d) => ({
            day: d.day,
            value: d.firstContactP50 === null ? null : d.firstContactP50 / unit.seconds,
          })),
          fmt: (v) => `${Number(v.toFixed(2))} ${unit.word}`,
          label: `Time to first contact, p50 per day: ${firstSentence}`,
        })}
        empty={`No case contacted, ${when}.`}
        table={{
          head: ["Day", "Cases opened", "p50 to first contact"],
          rows: r.days.map((d) => [dayWords(d.day), d.casesOpened, duration(d.firstContactP50)]),
        }}
      />
      <Figure
        title="Resolved by the customer"
        sentence={resolvedSentence}
        plot={DayBars({
          bars: r.days.map((d) => ({ day: d.day, total: d.casesResolved, part: d.resolvedByCustomer })),
          label: `Cases resolved per day, and of them settled by the customer: ${resolvedSentence}`,
        })}
        empty={`No case resolved, ${when}.`}
        table={{
          head: ["Day", "Resolved", "By the customer", "Share"],
          rows: r.days.map((d) => [
            dayWords(d.day),
            d.casesResolved,
            d.resolvedByCustomer,
            d.casesResolved === 0 ? "—" : percent(d.resolvedByCustomer / d.casesResolved),
          ]),
        }}
      />
      {satisfaction("Satisfaction by team", r.feedback.byTeam, when, "teams")}
      {satisfaction("Satisfaction by advocate", r.feedback.byAdvocate, when, "advocates")}
      <Figure
        title="Contacted for nothing, per rule"
        sentence={costSentence}
        plot={RowBars({
          rows: costly.map((c) => ({
            name: c.rule,
            value: c.customersContactedForNothing,
            figure:
              c.per1000Customers === null
                ? String(c.customersContactedForNothing)
                : `${c.customersContactedForNothing} (${c.per1000Customers.toFixed(1)} per 1,000)`,
            note: `precision ${percent(c.precision)}`,
          })),
          label: `Customers contacted for nothing, per rule, beside its precision: ${costSentence}`,
        })}
        empty={`No rule's case ended a false alarm, ${when}.`}
        table={{
          head: [
            "Rule",
            "Contacted for nothing",
            "Per 1,000 customers",
            "Precision",
            "Confirmed",
            "False alarms",
          ],
          rows: costly.map((c) => [
            c.rule,
            c.customersContactedForNothing,
            c.per1000Customers === null ? "—" : c.per1000Customers.toFixed(1),
            percent(c.precision),
            c.confirmed,
            c.falseAlarms,
          ]),
        }}
      />
    </div>
  );
}

/** The open cases waiting on the bank, longest first; linked for those who may open cases. */
function WaitingOnBank({ r, linkCases }: { r: ExperienceReport; linkCases: boolean }) {
  return (
    <div class="card">
      <h2>Waiting on the bank</h2>
      {r.waitingOnBank.length === 0 ? (
        <p class="muted">No open case waits on the bank.</p>
      ) : (
        <ol class="waiting">
          {r.waitingOnBank.map((w) => (
            <li>
              {linkCases ? <a href={`/desk/cases/${w.caseId}`}>{w.caseId}</a> : <code>{w.caseId}</code>} —
              customer {w.customerId}, {w.advocateId ? `with ${w.advocateId}` : "no advocate"}, waiting{" "}
              <b>{duration(w.seconds)}</b> (since <When at={w.since} />)
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}

export interface ExperienceView {
  report: ExperienceReport;
  /** The window as asked, for the picker (the report's own window labels the figures). */
  asked: { since: Date; until: Date };
  now: Date;
  /** Teams to choose from; empty when the reader is bound to one. */
  teams: string[];
  /** A word on a window or team the page could not use. */
  note?: string | undefined;
  /** Whether the reader may open cases (risk may not). */
  linkCases: boolean;
}

/** The page's body, a pure function of the report and the reader's choices. */
export function ExperienceBody({ report: r, asked, now, teams, note, linkCases }: ExperienceView) {
  const team = r.window.team;
  const link = (w: { since: Date; until: Date }) => {
    const q = new URLSearchParams({ since: isoDay(w.since), until: isoDay(w.until) });
    if (team && teams.length > 0) q.set("team", team);
    return `/desk/experience?${q}`;
  };
  const when = windowWords(r.window.since, r.window.until);
  return (
    <div>
      <h1>Customer experience{team ? `, team ${team}` : ""}</h1>
      <p class="muted">{when} (UTC days)</p>
      <nav class="tabs picker" aria-label="Window">
        {PRESETS.map(([label, days]) => {
          const w = preset(days, now);
          const on =
            w.since.getTime() === asked.since.getTime() && w.until.getTime() === asked.until.getTime();
          return (
            <a href={link(w)} class={on ? "on" : ""} aria-current={on ? "page" : undefined}>
              {label}
            </a>
          );
        })}
      </nav>
      {teams.length > 0 ? (
        <form class="picker" method="get" action="/desk/experience">
          <input type="hidden" name="since" value={isoDay(asked.since)} />
          <input type="hidden" name="until" value={isoDay(asked.until)} />
          <label for="team">Team</label>
          <select id="team" name="team">
            <option value="" selected={!team}>
              All teams
            </option>
            {teams.map((t) => (
              <option value={t} selected={t === team}>
                {t}
              </option>
            ))}
          </select>{" "}
          <button type="submit">Show</button>
        </form>
      ) : null}
      {note ? <p class="warn">{note}</p> : null}
      {r.cases === 0 ? <p class="empty-window">No cases in this window ({when}).</p> : null}
      <div class="card">
        <Headline r={r} />
      </div>
      <Figures r={r} />
      <WaitingOnBank r={r} linkCases={linkCases} />
    </div>
  );
}

const notYours = (p: Principal) => (
  <Layout title="Not yours" who={whoOf(p)} role={p.role}>
    <p>The experience figures are for supervisors and the risk team: ask a supervisor.</p>
  </Layout>
);

/**
 * `/desk/experience`. A supervisor bound to a team sees that team's; other readers choose one or
 * all. `now` is read per request (the picker's "today"), passed down as a value.
 */
export function experiencePage(sql: Sql, deps: { report: ExperienceSource; now?: () => Date }) {
  const app = new Hono<DeskEnv>();
  app.get("/", async (c) => {
    const p = c.get("principal");
    if (!READERS.includes(p.role)) return c.html(notYours(p), 403);
    const now = deps.now?.() ?? new Date();
    const asked = windowOf({ since: c.req.query("since"), until: c.req.query("until") }, now);
    const bound = teamOf(p);
    const teams = bound ? [] : await advocateTeams(sql);
    const wanted = c.req.query("team") || undefined;
    let note = asked.note;
    let team = bound;
    if (!bound && wanted) {
      if (teams.includes(wanted)) team = wanted;
      else note = `${note ? `${note} ` : ""}No team is called ${wanted}: all teams instead.`;
    }
    const report = await deps.report({ since: asked.since, until: asked.until, ...(team ? { team } : {}) });
    return c.html(
      <Layout title="Customer experience" who={whoOf(p)} role={p.role}>
        <ExperienceBody
          report={report}
          asked={asked}
          now={now}
          teams={teams}
          note={note}
          linkCases={p.role !== "risk"}
        />
      </Layout>,
    );
  });
  return app;
}
