/**
 * The risk team's pages on the desk: every published rule with its mode, owner, the version it
 * last changed in, and what it caught over a chosen window (hits, confirmed, false alarms,
 * precision; a shadow rule's "would have" figures); and each rule's JSON, test cases and history,
 * version by version with what changed, and the customers each contacted for nothing beside its
 * precision (from the experience report, `ExperienceSource`); each rule's figures per version and
 * mode and a shadow rule's would-have hits; backtest reports. The risk team (and admins) can also
 * paste or upload a rule file to validate, test, backtest and publish it (rule-form.tsx), with the
 * API's own checks. Risk, supervisors and admins read these; advocates do not.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { NotFoundError } from "../../engine/errors.ts";
import type { RuleCost } from "../../engine/experience/report.ts";
import type { FieldChange } from "../../engine/rules/diff.ts";
import { diffRuleFiles } from "../../engine/rules/diff.ts";
import { listsOf } from "../../engine/rules/lists.ts";
import type { RuleFile } from "../../engine/rules/schema.ts";
import { getBacktest, recentBacktests } from "../../engine/store/backtests.ts";
import type { Sql } from "../../engine/store/database.ts";
import {
  type RuleHit,
  type RuleVersionFigures,
  ruleFiguresByVersion,
  ruleHits,
  ruleVersionStarts,
} from "../../engine/store/rule-figures.ts";
import { ruleStats, rulesetHistory, type StoredRuleset } from "../../engine/store/rulesets.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import type { Queues } from "../../workers/queues.ts";
import type { Told } from "../routes/rules.ts";
import { BacktestView } from "./backtests.tsx";
import type { ExperienceSource } from "./experience.tsx";
import { Layout, Severity, When } from "./layout.tsx";
import { blankForm, type FormState, mayEditRules, RuleForm, runRuleForm } from "./rule-form.tsx";
import { teamOf } from "./words.tsx";

type Env = { Variables: { principal: Principal } };

/** The windows the page offers, by their query value: days, or everything. */
const WINDOWS: Array<[string, string, number | null]> = [
  ["7d", "7 days", 7],
  ["30d", "30 days", 30],
  ["90d", "90 days", 90],
  ["all", "all time", null],
];

interface RuleChange {
  version: number;
  kind: "added" | "changed" | "removed";
  changes: FieldChange[];
  by: string;
  note: string;
  at: Date | null;
}

/** Each rule's changes, version by version, oldest first: read from the stored versions. */
function histories(base: StoredRuleset | undefined, versions: StoredRuleset[]): Map<string, RuleChange[]> {
  const out = new Map<string, RuleChange[]>();
  let before: RuleFile[] = base?.files ?? [];
  for (const v of versions) {
    const d = diffRuleFiles(before, v.files);
    const at = { version: v.version, by: v.createdBy, note: v.note, at: v.publishedAt };
    const push = (rule: string, change: RuleChange) => out.set(rule, [...(out.get(rule) ?? []), change]);
    for (const r of d.added) push(r, { ...at, kind: "added", changes: [] });
    for (const c of d.changed) push(c.rule, { ...at, kind: "changed", changes: c.changes });
    for (const r of d.removed) push(r, { ...at, kind: "removed", changes: [] });
    before = v.files;
  }
  return out;
}

/** Who is signed in, as people call them: the token's label, else its id. */
const whoIs = (p: Principal) => `${p.label || p.advocateId || p.tokenId} (${p.role})`;

const show = (v: unknown) => (v === undefined ? "(none)" : JSON.stringify(v));
const pct = (p: number | null) => (p === null ? "—" : `${Math.round(p * 100)}%`);

/** A rule's cost to customers in words: "3 (1.2 per 1,000)", or 0 for a rule that cost none. */
const nothing = (c: RuleCost | undefined) =>
  !c || c.customersContactedForNothing === 0
    ? "0"
    : `${c.customersContactedForNothing}${c.per1000Customers === null ? "" : ` (${c.per1000Customers.toFixed(1)} per 1,000)`}`;

/** How many of a shadow rule's would-have hits its page lists (the newest); the API pages on. */
const SHADOW_HITS_LISTED = 50;

const OUTCOME: Record<RuleHit["outcome"], string> = {
  confirmed_fraud: "confirmed fraud",
  false_alarm: "false alarm",
  open: "case open",
  none: "no case",
};

/** A rule's figures, one row per rule version and mode, oldest first. */
const Figures = ({ items }: { items: RuleVersionFigures[] }) =>
  items.length === 0 ? (
    <p class="muted">No hits yet.</p>
  ) : (
    <table class="cards">
      <thead>
        <tr>
          <th>Version</th>
          <th>Mode</th>
          <th>Hits</th>
          <th>Customers</th>
          <th>Confirmed</th>
          <th>False alarms</th>
          <th>Precision</th>
          <th>Also hit by a live rule</th>
        </tr>
      </thead>
      <tbody>
        {items.map((f) => (
          <tr>
            <td data-label="Version">v{f.ruleVersion}</td>
            <td data-label="Mode">{f.mode}</td>
            <td data-label={f.mode === "shadow" ? "Would have hit" : "Hits"}>{f.hits}</td>
            <td data-label="Customers">{f.customers}</td>
            <td data-label="Confirmed">{f.confirmed}</td>
            <td data-label="False alarms">{f.falseAlarms}</td>
            <td data-label="Precision">{pct(f.precision)}</td>
            <td data-label="Also hit by a live rule">{f.overlapWithLive ?? "—"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );

/** A shadow rule's individual would-have hits, newest first. */
const WouldHave = ({ items }: { items: RuleHit[] }) => (
  <>
    <table class="cards">
      <thead>
        <tr>
          <th>Event</th>
          <th>Customer</th>
          <th>When</th>
          <th>Amount</th>
          <th>Merchant</th>
          <th>Place</th>
          <th>Also live</th>
          <th>Known outcome</th>
        </tr>
      </thead>
      <tbody>
        {items.map((h) => (
          <tr>
            <td data-label="Event">
              <code>{h.eventId}</code> <span class="muted">v{h.rulesetVersion}</span>
            </td>
            <td data-label="Customer">{h.customerId}</td>
            <td data-label="When">
              <When at={h.occurredAt ?? h.decidedAt} />
            </td>
            <td data-label="Amount">{h.amount ? `${h.amount.value} ${h.amount.currency}` : "—"}</td>
            <td data-label="Merchant">{h.merchant ?? "—"}</td>
            <td data-label="Place">
              {h.place ? [h.place.city, h.place.country].filter(Boolean).join(", ") : "—"}
            </td>
            <td data-label="Also live">{h.alsoLive ? "yes" : "no"}</td>
            <td data-label="Known outcome">
              {h.caseId ? `${OUTCOME[h.outcome]} (${h.caseId})` : OUTCOME[h.outcome]}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
    {items.length === SHADOW_HITS_LISTED ? (
      <p class="muted">
        The latest {SHADOW_HITS_LISTED}; GET /v1/rules/:name/hits?mode=shadow&amp;limit=500 lists more.
      </p>
    ) : null}
  </>
);

/** The risk team's pages (rules, lists): theirs, supervisors' and admins'; a 403 page for anyone else. */
export function riskTeamPages(what: string): MiddlewareHandler<Env> {
  return async (c, next) => {
    const p = c.get("principal");
    if (!["risk", "supervisor", "admin"].includes(p.role)) {
      return c.html(
        <Layout title="Not yours" who={whoIs(p)} role={p.role}>
          <p>{what} are the risk team's: ask them, or a supervisor.</p>
        </Layout>,
        403,
      );
    }
    await next();
  };
}

export function rulePages(
  sql: Sql,
  deps: { report: ExperienceSource; queues: Pick<Queues, "backtests">; told: Told },
) {
  const app = new Hono<Env>();
  app.use("*", riskTeamPages("Rules"));

  /** The Rules page; with the form's state after one of its actions (and its status). */
  const rulesPage = async (c: Context<Env>, form: FormState | undefined, status: 200 | 400 | 422 = 200) => {
    const p = c.get("principal");
    const chosen = WINDOWS.find(([key]) => key === c.req.query("window")) ?? WINDOWS[1]!;
    const now = new Date();
    const since = chosen[2] === null ? undefined : new Date(now.getTime() - chosen[2] * 86_400_000);
    const [{ base, versions }, stats, backtests] = await Promise.all([
      rulesetHistory(sql),
      ruleStats(sql, since),
      recentBacktests(sql, 10),
    ]);
    // "All time" for the report starts with the first published ruleset: no rule contacted anyone before.
    const first = base?.publishedAt ?? versions[0]?.publishedAt ?? new Date(now.getTime() - 365 * 86_400_000);
    const { perRule } = await deps.report({ since: since ?? first, until: now });
    const costOf = new Map(perRule.map((c) => [c.rule, c]));
    const current = versions[versions.length - 1];
    const changes = histories(base, versions);
    // A rule moved from shadow to live has figures of both: each table shows its own mode's.
    const statOf = new Map(stats.map((s) => [`${s.mode}:${s.rule}`, s]));
    const files = current?.files ?? [];
    const lastChanged = (name: string) =>
      changes.get(name)?.at(-1)?.version ?? `${base?.version ?? 1} or before`;
    return c.html(
      <Layout title="Rules" who={whoIs(p)} role={p.role}>
        <h1>Rules</h1>
        <p class="muted">
          Version {current?.version ?? "—"}, published <When at={current?.publishedAt ?? null} /> by{" "}
          {current?.createdBy ?? "—"}
          {current?.note ? ` — ${current.note}` : ""}
        </p>
        <p class="tabs">
          Hits over:{" "}
          {WINDOWS.map(([key, label]) => (
            <a href={`/desk/rules?window=${key}`} class={key === chosen[0] ? "on" : ""}>
              {label}
            </a>
          ))}
        </p>
        <div class="card">
          <h2>Live</h2>
          <table class="cards">
            <thead>
              <tr>
                <th>Rule</th>
                <th>Owner</th>
                <th>Severity</th>
                <th>Changed in</th>
                <th>Hits</th>
                <th>Confirmed</th>
                <th>False alarms</th>
                <th>Precision</th>
                <th>Contacted for nothing</th>
              </tr>
            </thead>
            <tbody>
              {files
                .filter((f) => f.rule.mode === "live")
                .map(({ rule }) => {
                  const s = statOf.get(`${rule.mode}:${rule.name}`);
                  // Its shadow days stay in its record: a rule made live keeps what it would have done.
                  const before = statOf.get(`shadow:${rule.name}`);
                  return (
                    <tr>
                      <td data-label="Rule">
                        <a href={`/desk/rules/${rule.name}`}>{rule.name}</a>
                        {before ? (
                          <div class="small muted">
                            in shadow before: {before.hits} would-have hit(s), precision{" "}
                            {pct(before.precision)}
                          </div>
                        ) : null}
                      </td>
                      <td data-label="Owner">{rule.owner ?? <span class="muted">nobody named</span>}</td>
                      <td data-label="Severity">
                        <Severity value={rule.event.params.severity} />
                      </td>
                      <td data-label="Changed in">v{lastChanged(rule.name)}</td>
                      <td data-label="Hits">{s?.hits ?? 0}</td>
                      <td data-label="Confirmed">{s?.confirmed ?? 0}</td>
                      <td data-label="False alarms">{s?.falseAlarms ?? 0}</td>
                      <td data-label="Precision">{pct(s?.precision ?? null)}</td>
                      <td data-label="Contacted for nothing">{nothing(costOf.get(rule.name))}</td>
                    </tr>
                  );
                })}
            </tbody>
          </table>
        </div>
        <div class="card">
          <h2>Shadow: what they would have done</h2>
          {files.some((f) => f.rule.mode === "shadow") ? (
            <table class="cards">
              <thead>
                <tr>
                  <th>Rule</th>
                  <th>Owner</th>
                  <th>Changed in</th>
                  <th>Would have hit</th>
                  <th>Customers</th>
                  <th>Also hit by a live rule</th>
                  <th>Precision (live cases' outcomes)</th>
                </tr>
              </thead>
              <tbody>
                {files
                  .filter((f) => f.rule.mode === "shadow")
                  .map(({ rule }) => {
                    const s = statOf.get(`${rule.mode}:${rule.name}`);
                    return (
                      <tr>
                        <td data-label="Rule">
                          <a href={`/desk/rules/${rule.name}`}>{rule.name}</a>
                        </td>
                        <td data-label="Owner">{rule.owner ?? <span class="muted">nobody named</span>}</td>
                        <td data-label="Changed in">v{lastChanged(rule.name)}</td>
                        <td data-label="Would have hit">{s?.hits ?? 0}</td>
                        <td data-label="Customers">{s?.customers ?? 0}</td>
                        <td data-label="Also hit by a live rule">
                          {s && "overlapWithLive" in s ? s.overlapWithLive : 0}
                        </td>
                        <td data-label="Precision (live cases' outcomes)">{pct(s?.precision ?? null)}</td>
                      </tr>
                    );
                  })}
              </tbody>
            </table>
          ) : (
            <p class="muted">
              No shadow rule. A new rule can start in shadow ("mode": "shadow") to be watched first.
            </p>
          )}
        </div>
        {mayEditRules(p) ? <RuleForm s={form ?? blankForm(now)} /> : null}
        <div class="card">
          <h2>Backtests</h2>
          {backtests.length > 0 ? (
            <ul>
              {backtests.map((b) => (
                <li>
                  <a href={`/desk/rules/backtests/${b.id}`}>{b.id}</a> · {b.status} · against v
                  {b.publishedVersion} · by {b.requestedBy} · <When at={b.createdAt} />
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted">No backtest yet.</p>
          )}
        </div>
      </Layout>,
      status,
    );
  };
  app.get("/", (c) => rulesPage(c, undefined));
  app.post("/", async (c) => {
    if (!mayEditRules(c.get("principal"))) return c.text("only the risk team changes rules", 403);
    const out = await runRuleForm(c, { sql, queues: deps.queues, told: deps.told });
    if ("redirect" in out) return c.redirect(out.redirect, 303);
    return rulesPage(c, out.form, out.form.issues && out.form.issues.length > 0 ? 400 : 200);
  });

  app.get("/backtests/:id", async (c) => {
    const p = c.get("principal");
    const b = await getBacktest(sql, c.req.param("id")).catch((err) => {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    });
    if (!b) {
      return c.html(
        <Layout title="Not found" who={whoIs(p)} role={p.role}>
          <p>No backtest {c.req.param("id")}.</p>
        </Layout>,
        404,
      );
    }
    return c.html(
      <Layout title={`Backtest ${b.id}`} who={whoIs(p)} role={p.role}>
        <p>
          <a href="/desk/rules">← Rules</a>
        </p>
        <h1>Backtest {b.id}</h1>
        <BacktestView b={b} />
      </Layout>,
    );
  });

  app.get("/:name", async (c) => {
    const p = c.get("principal");
    const name = c.req.param("name");
    const { base, versions } = await rulesetHistory(sql);
    const current = versions[versions.length - 1];
    const file = current?.files.find((f) => f.rule.name === name);
    const history = histories(base, versions).get(name) ?? [];
    const [figures, wouldHave] = await Promise.all([
      ruleFiguresByVersion(sql, name, ruleVersionStarts(base, versions, name)),
      // A team-bound supervisor sees only customers its team has a case for, as on every page.
      ruleHits(sql, name, "shadow", { limit: SHADOW_HITS_LISTED, team: teamOf(p) }),
    ]);
    if (!file && history.length === 0 && figures.length === 0) {
      return c.html(
        <Layout title="Not found" who={whoIs(p)} role={p.role}>
          <p>No rule {name}.</p>
        </Layout>,
        404,
      );
    }
    return c.html(
      <Layout title={name} who={whoIs(p)} role={p.role}>
        <p>
          <a href="/desk/rules">← Rules</a>
        </p>
        <h1>
          {name} {file ? <span class="pill">{file.rule.mode}</span> : <span class="warn">removed</span>}
        </h1>
        {c.req.query("published") ? (
          <p class="ok" role="status">
            Published as version {c.req.query("published")}.
          </p>
        ) : c.req.query("unchanged") ? (
          <p class="muted" role="status">
            No change: version {c.req.query("unchanged")} already holds this file.
          </p>
        ) : null}
        {file?.rule.description ? <p>{file.rule.description}</p> : null}
        <p class="muted">
          Owner: {file?.rule.owner ?? "nobody named"} · version {current?.version}
        </p>
        {file && listsOf(file.rule).length > 0 ? (
          <p>
            Lists it looks up:{" "}
            {listsOf(file.rule).map((l, i) => (
              <>
                {i > 0 ? ", " : ""}
                <a href={`/desk/lists/${l}`}>{l}</a>
              </>
            ))}
          </p>
        ) : null}
        <div class="grid">
          <div>
            <div class="card">
              <h2>Test cases</h2>
              {file && file.tests.length > 0 ? (
                <ul>
                  {file.tests.map((t) => (
                    <li>
                      {t.name} — <b>{t.fires ? "fires" : "does not fire"}</b>{" "}
                      <code>{JSON.stringify(t.facts)}</code>
                    </li>
                  ))}
                </ul>
              ) : (
                <p class="warn">No test cases.</p>
              )}
            </div>
            <div class="card">
              <h2>Figures by version and mode</h2>
              <Figures items={figures} />
            </div>
            {wouldHave.length > 0 ? (
              <div class="card">
                <h2>Would-have hits (shadow)</h2>
                <WouldHave items={wouldHave} />
              </div>
            ) : null}
            <div class="card">
              <h2>History</h2>
              <ol class="timeline">
                {[...history].reverse().map((h) => (
                  <li>
                    <span class="when">
                      v{h.version} · <When at={h.at} />
                    </span>
                    <b>{h.kind}</b> by {h.by}
                    {h.note ? ` — ${h.note}` : ""}
                    {h.changes.length > 0 ? (
                      <ul>
                        {h.changes.map((ch) => (
                          <li>
                            <code>{ch.path}</code>: <span class="diff-del">{show(ch.before)}</span> →{" "}
                            <span class="diff-add">{show(ch.after)}</span>
                          </li>
                        ))}
                      </ul>
                    ) : null}
                  </li>
                ))}
              </ol>
            </div>
          </div>
          <div class="card">
            <h2>The rule file</h2>
            <pre class="rule-file">{file ? JSON.stringify(file, null, 2) : "(removed)"}</pre>
          </div>
        </div>
      </Layout>,
    );
  });
  return app;
}
