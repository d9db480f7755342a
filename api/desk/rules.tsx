/**
 * The risk team's pages on the desk: every published rule with its mode, owner, the version it
 * last changed in, and what it caught over a chosen window (hits, confirmed, false alarms,
 * precision; a shadow rule's "would have" figures); and each rule's JSON, test cases and history,
 * version by version with what changed, and the customers each contacted for nothing beside its
 * precision (from the experience report, `ExperienceSource`). Read only: rules are edited as files and published with
 * the CLI, reviewed in git. Risk, supervisors and admins read these; advocates do not.
 */
import { Hono } from "hono";
import type { RuleCost } from "../../engine/experience/report.ts";
import type { FieldChange } from "../../engine/rules/diff.ts";
import { diffRuleFiles } from "../../engine/rules/diff.ts";
import { listsOf } from "../../engine/rules/lists.ts";
import type { RuleFile } from "../../engine/rules/schema.ts";
import type { Sql } from "../../engine/store/database.ts";
import type { Principal } from "../../engine/store/postgres.ts";
import { ruleStats, rulesetHistory, type StoredRuleset } from "../../engine/store/rulesets.ts";
import type { ExperienceSource } from "./experience.tsx";
import { Layout, Severity, When } from "./layout.tsx";

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

export function rulePages(sql: Sql, deps: { report: ExperienceSource }) {
  const app = new Hono<Env>();
  app.use("*", async (c, next) => {
    const p = c.get("principal");
    if (!["risk", "supervisor", "admin"].includes(p.role)) {
      return c.html(
        <Layout title="Not yours" who={whoIs(p)} role={p.role}>
          <p>Rules are the risk team's: ask them, or a supervisor.</p>
        </Layout>,
        403,
      );
    }
    await next();
  });

  app.get("/", async (c) => {
    const p = c.get("principal");
    const chosen = WINDOWS.find(([key]) => key === c.req.query("window")) ?? WINDOWS[1]!;
    const now = new Date();
    const since = chosen[2] === null ? undefined : new Date(now.getTime() - chosen[2] * 86_400_000);
    const [{ base, versions }, stats] = await Promise.all([rulesetHistory(sql), ruleStats(sql, since)]);
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
          <table>
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
                  return (
                    <tr>
                      <td>
                        <a href={`/desk/rules/${rule.name}`}>{rule.name}</a>
                      </td>
                      <td>{rule.owner ?? <span class="muted">nobody named</span>}</td>
                      <td>
                        <Severity value={rule.event.params.severity} />
                      </td>
                      <td>v{lastChanged(rule.name)}</td>
                      <td>{s?.hits ?? 0}</td>
                      <td>{s?.confirmed ?? 0}</td>
                      <td>{s?.falseAlarms ?? 0}</td>
                      <td>{pct(s?.precision ?? null)}</td>
                      <td>{nothing(costOf.get(rule.name))}</td>
                    </tr>
                  );
                })}
            </tbody>
          </table>
        </div>
        <div class="card">
          <h2>Shadow: what they would have done</h2>
          {files.some((f) => f.rule.mode === "shadow") ? (
            <table>
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
                        <td>
                          <a href={`/desk/rules/${rule.name}`}>{rule.name}</a>
                        </td>
                        <td>{rule.owner ?? <span class="muted">nobody named</span>}</td>
                        <td>v{lastChanged(rule.name)}</td>
                        <td>{s?.hits ?? 0}</td>
                        <td>{s?.customers ?? 0}</td>
                        <td>{s && "overlapWithLive" in s ? s.overlapWithLive : 0}</td>
                        <td>{pct(s?.precision ?? null)}</td>
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
    if (!file && history.length === 0) {
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
            <pre>{file ? JSON.stringify(file, null, 2) : "(removed)"}</pre>
          </div>
        </div>
      </Layout>,
    );
  });
  return app;
}
