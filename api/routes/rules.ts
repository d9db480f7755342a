/**
 * What the risk team works with: rule files one at a time (`/v1/rules/:name`), whole rulesets with
 * their versions, diffs, tests, backtests and rollbacks (`/v1/rulesets`), and the facts catalogue
 * (`/v1/facts`). A publish that changes nothing makes no version; one that would drop rules must
 * say so in `remove`.
 */
import { Hono } from "hono";
import type { Redis } from "ioredis";
import { z } from "zod";
import { ConflictError, NotFoundError, TooLargeError, ValidationError } from "../../engine/errors.ts";
import { fxChannel, rulesetChannel } from "../../engine/evaluate.ts";
import { text, timestamp } from "../../engine/events.ts";
import type { Logger } from "../../engine/log.ts";
import { CompiledRuleset } from "../../engine/rules/compile.ts";
import { diffRuleFiles, type RulesetDiff } from "../../engine/rules/diff.ts";
import { blankFacts, factCatalogue } from "../../engine/rules/facts.ts";
import { asFileShape, inAuthorsOrder } from "../../engine/rules/key-order.ts";
import { type Lists, listItems, listsOf } from "../../engine/rules/lists.ts";
import {
  parseRuleFile,
  parseRuleFiles,
  type RuleContext,
  type RuleFile,
  type RuleIssue,
  ruleModes,
  rulesetOf,
  testName,
} from "../../engine/rules/schema.ts";
import { requirePassingTests, runRuleTests } from "../../engine/rules/testing.ts";
import { audit } from "../../engine/store/audit.ts";
import type { Sql } from "../../engine/store/database.ts";
import { fxRates, putFxRates } from "../../engine/store/fx.ts";
import { listContents, listNames } from "../../engine/store/lists.ts";
import { advocateTeams } from "../../engine/store/people.ts";
import { ruleFigures, ruleHits } from "../../engine/store/rule-figures.ts";
import {
  type PublishResult,
  publishedRuleset,
  publisherOf,
  publishRuleFiles,
  ruleStats,
  rulesetVersion,
  rulesetVersions,
  type StoredRuleset,
} from "../../engine/store/rulesets.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { jsonBody, toIssues } from "../errors.ts";
import { teamScope } from "./cases.ts";

/** Why, recorded with the version; without one, the version says what changed. */
const note = text(2000).optional();
const MAX_TEST_CASES = 2000;
const ruleName = z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "a rule name, kebab-case");

const publishBody = z.strictObject({
  rules: z.array(z.unknown()),
  /** Rules of the current version this publish leaves out on purpose. */
  remove: z.array(ruleName).max(500).default([]),
  note,
});
const legacyCase = z.strictObject({
  name: testName,
  facts: z.record(z.string(), z.unknown()),
  fires: z.array(z.string()),
});
const testBody = z.strictObject({
  rules: z.array(z.unknown()).optional(),
  /** Cases over the whole ruleset: `fires` lists every rule expected to fire. */
  cases: z.array(legacyCase).min(1).max(1000).optional(),
});
/** A rule's hits: a shadow rule's would-have hits unless `mode=live`; the newest first. */
const hitsQuery = z.object({
  mode: z.enum(ruleModes).default("shadow"),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
function versionParam(raw: string | undefined, path = "version"): number {
  const version = Number(raw);
  if (!Number.isInteger(version) || version < 1 || version > 2_147_483_647) {
    throw new ValidationError("invalid version", [{ path, message: "a positive integer" }]);
  }
  return version;
}

/** "added x; changed y, z; removed w": the why of a version when its publisher gave none. */
function describe(d: RulesetDiff): string {
  const parts = [
    d.added.length ? `added ${d.added.join(", ")}` : "",
    d.changed.length ? `changed ${d.changed.map((c) => c.rule).join(", ")}` : "",
    d.removed.length ? `removed ${d.removed.join(", ")}` : "",
  ].filter(Boolean);
  return parts.join("; ");
}

/**
 * The files a whole-ruleset publish makes of the current version; refuses (409, naming them) to
 * drop rules the request does not list in `remove`.
 */
function replacing(files: RuleFile[], remove: string[]) {
  return (current: StoredRuleset | undefined): RuleFile[] => {
    const names = new Set(files.map((f) => f.rule.name));
    const kept = remove.filter((n) => names.has(n));
    if (kept.length > 0) {
      throw new ValidationError("a rule cannot be both published and removed", [
        { path: "remove", message: `also in rules: ${kept.join(", ")}` },
      ]);
    }
    const dropped = (current?.files ?? []).map((f) => f.rule.name).filter((n) => !names.has(n));
    const unsaid = dropped.filter((n) => !remove.includes(n));
    if (unsaid.length > 0) {
      throw new ConflictError(
        `this publish would drop ${unsaid.length} rule(s) of version ${current?.version}: ${unsaid.join(", ")}; list them in remove to drop them, or use PUT /v1/rules/:name to change one rule`,
        { rules: unsaid, version: current?.version },
      );
    }
    return files;
  };
}

export interface Told {
  redis: Redis;
  keyPrefix: string;
  log: Logger;
}

/**
 * Tells every worker of a new version. Should Redis miss it, the workers still read it within
 * their poll (RulesetCache), so the publish itself stands.
 */
async function announce(told: Told, r: PublishResult): Promise<void> {
  if (r.unchanged) return;
  await told.redis.publish(rulesetChannel(told.keyPrefix), String(r.version)).catch((err: Error) => {
    told.log.warn(
      { err: err.message, version: r.version },
      "could not announce a publish; workers poll for it",
    );
  });
}

function published(r: PublishResult, status: 200 | 201 = r.unchanged ? 200 : 201) {
  return [{ version: r.version, unchanged: r.unchanged, from: r.from, diff: r.diff }, status] as const;
}

/** What a rule is checked against beyond its file: the teams advocates are in, the lists there are. */
export async function known(sql: Sql): Promise<RuleContext> {
  const [teams, lists] = await Promise.all([advocateTeams(sql), listNames(sql)]);
  return { teams, lists };
}

/** The server's lists that `files` name, as their test cases see them (where a case sets none). */
export async function listsFor(sql: Sql, files: readonly RuleFile[]): Promise<Lists> {
  const names = [...new Set(files.flatMap((f) => listsOf(f.rule)))];
  const found = await listContents(sql, names);
  return new Map([...found].map(([name, l]) => [name, listItems(l.items)]));
}

/**
 * Refuses a whole-ruleset publish whose new or changed files fail their own tests. A file equal to
 * the published one is not run again: it was tested when it was published (or before this check
 * existed, and then it is already live either way), and a large ruleset costs one run per case.
 */
async function requireChangedTestsPass(sql: Sql, files: RuleFile[]): Promise<void> {
  const diff = diffRuleFiles((await publishedRuleset(sql))?.files ?? [], files);
  const touched = new Set([...diff.added, ...diff.changed.map((c) => c.rule)]);
  await requirePassingTests(
    files.flatMap((file, i) => (touched.has(file.rule.name) ? [{ file, at: `rules[${i}]` }] : [])),
    await listsFor(sql, files),
  );
}

/**
 * One checked rule file in, as `PUT /v1/rules/:name` puts it (and the desk's form): its own cases
 * must pass (422 naming each failing one), then a version with every other rule unchanged, told
 * to the workers. The same file again makes no version.
 */
export async function putRuleFile(
  sql: Sql,
  told: Told,
  file: RuleFile,
  who: Pick<Principal, "tokenId" | "label">,
  why: string | undefined,
): Promise<PublishResult> {
  const name = file.rule.name;
  await requirePassingTests([{ file, at: "" }], await listsFor(sql, [file]));
  const r = await publishRuleFiles(
    sql,
    (cur) => [...(cur?.files ?? []).filter((f) => f.rule.name !== name), file],
    publisherOf(who),
    why ?? `put ${name}`,
  );
  await announce(told, r);
  return r;
}

async function current(sql: Sql): Promise<StoredRuleset> {
  const found = await publishedRuleset(sql);
  if (!found) throw new NotFoundError("no ruleset published yet");
  return found;
}

export function ruleRoutes(sql: Sql, told: Told) {
  const app = new Hono<AuthEnv>();
  app.get("/", requireRole("risk", "supervisor"), async (c) => {
    const { version, files } = await current(sql);
    return c.json(
      {
        version,
        items: files.map(({ rule, tests }) => ({
          name: rule.name,
          mode: rule.mode,
          owner: rule.owner ?? null,
          description: rule.description ?? null,
          priority: rule.priority,
          severity: rule.event.params.severity,
          team: rule.event.params.team,
          tests: tests.length,
        })),
      },
      200,
    );
  });
  app.get("/:name", requireRole("risk", "supervisor"), async (c) => {
    const { version, files } = await current(sql);
    const file = files.find((f) => f.rule.name === c.req.param("name"));
    if (!file) throw new NotFoundError(`no rule ${c.req.param("name")} in version ${version}`);
    return c.json({ version, ...file }, 200);
  });
  // A rule's record outlives its versions: asked by name, published now or not.
  app.get("/:name/figures", requireRole("risk", "supervisor"), async (c) => {
    const name = c.req.param("name");
    return c.json({ rule: name, items: await ruleFigures(sql, name) }, 200);
  });
  app.get("/:name/hits", requireRole("risk", "supervisor"), async (c) => {
    const q = hitsQuery.safeParse(c.req.query());
    if (!q.success) throw new ValidationError("invalid query", toIssues(q.error, "query"));
    const name = c.req.param("name");
    return c.json(
      {
        rule: name,
        mode: q.data.mode,
        // A team-bound supervisor sees the customers of its own team's cases only, as elsewhere.
        items: await ruleHits(sql, name, q.data.mode, {
          limit: q.data.limit,
          team: teamScope(c.get("principal")),
        }),
      },
      200,
    );
  });
  app.put("/:name", requireRole("risk"), async (c) => {
    const name = c.req.param("name");
    const body = await jsonBody(c, z.looseObject({ note }));
    const { note: why, ...raw } = body;
    const file = inAuthorsOrder(parseRuleFile(raw, await known(sql)), raw);
    if (file.rule.name !== name) {
      const issue: RuleIssue = {
        path: "rule.name",
        rule: file.rule.name,
        message: `is ${file.rule.name}; the address says ${name}`,
      };
      throw new ValidationError("the rule's name is its address", [issue]);
    }
    return c.json(...published(await putRuleFile(sql, told, file, c.get("principal"), why)));
  });
  app.delete("/:name", requireRole("risk"), async (c) => {
    const name = c.req.param("name");
    const checked = note.safeParse(c.req.query("note"));
    if (!checked.success) throw new ValidationError("invalid note", toIssues(checked.error, "query.note"));
    const why = checked.data;
    const r = await publishRuleFiles(
      sql,
      (cur) => {
        const files = cur?.files ?? [];
        if (!files.some((f) => f.rule.name === name)) {
          throw new NotFoundError(`no rule ${name} in version ${cur?.version ?? "(none)"}`);
        }
        if (files.length === 1) {
          throw new ConflictError(`${name} is the only rule; a ruleset keeps at least one`, {
            rules: [name],
          });
        }
        return files.filter((f) => f.rule.name !== name);
      },
      publisherOf(c.get("principal")),
      why ?? `removed ${name}`,
    );
    await announce(told, r);
    return c.json(...published(r));
  });
  return app;
}

const fxBody = z.strictObject({
  /** The date the rates are of. */
  asOf: z.iso.date({ error: "a date, YYYY-MM-DD" }),
  /** Units of each currency for one euro. */
  rates: z
    .record(z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code, e.g. USD"), z.number().positive().max(1e9))
    .refine((r) => Object.keys(r).length > 0 && Object.keys(r).length <= 400, "between 1 and 400 currencies"),
});

/** The exchange rates behind `amount.home` and the velocity sums: the bank keeps them current. */
export function fxRoutes(sql: Sql, told: Told) {
  const app = new Hono<AuthEnv>();
  app.get("/", requireRole("risk", "supervisor"), async (c) =>
    c.json({ base: "EUR", items: await fxRates(sql) }, 200),
  );
  app.put("/", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, fxBody);
    if (Date.parse(body.asOf) > Date.now() + 86_400_000) {
      throw new ValidationError("rates from the future", [{ path: "asOf", message: "not after tomorrow" }]);
    }
    if (body.rates.EUR !== undefined && body.rates.EUR !== 1) {
      throw new ValidationError("the base is the euro", [
        { path: "rates.EUR", message: "is 1 by definition" },
      ]);
    }
    const who = publisherOf(c.get("principal"));
    const updated = await putFxRates(sql, body.rates, body.asOf, who.by);
    await audit(sql, who.tokenId, "fx.update", "fx_rates", {
      asOf: body.asOf,
      currencies: Object.keys(body.rates),
    });
    await told.redis.publish(fxChannel(told.keyPrefix), body.asOf).catch((err: Error) => {
      told.log.warn({ err: err.message }, "could not announce new rates; workers read them within a minute");
    });
    return c.json({ updated, asOf: body.asOf }, 200);
  });
  return app;
}

export function factRoutes() {
  const app = new Hono<AuthEnv>();
  const items = factCatalogue();
  app.get("/", requireRole("risk", "supervisor"), (c) => c.json({ items }, 200));
  return app;
}

export function rulesetRoutes(sql: Sql, opts: Told) {
  const app = new Hono<AuthEnv>();
  app.get("/", requireRole("risk", "supervisor"), async (c) =>
    c.json({ items: await rulesetVersions(sql) }, 200),
  );
  app.get("/current", requireRole("risk", "supervisor"), async (c) => {
    const found = await publishedRuleset(sql);
    return c.json(found ? { ...found, publishedAt: found.publishedAt?.toISOString() ?? null } : null, 200);
  });
  app.get("/stats", requireRole("risk", "supervisor"), async (c) => {
    const since = c.req.query("since");
    if (since !== undefined && !timestamp.safeParse(since).success) {
      throw new ValidationError("invalid since", [{ path: "query.since", message: "an ISO 8601 time" }]);
    }
    return c.json({ items: await ruleStats(sql, since ? new Date(since) : undefined) }, 200);
  });
  app.post("/validate", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, z.strictObject({ rules: z.array(z.unknown()) }));
    const files = parseRuleFiles(body.rules, "rules", await known(sql));
    return c.json({ valid: true, rules: files.map((f) => f.rule.name) }, 200);
  });
  app.post("/diff", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, publishBody);
    const files = parseRuleFiles(body.rules, "rules", await known(sql));
    const cur = await publishedRuleset(sql);
    const diff = diffRuleFiles(cur?.files ?? [], files);
    const wouldDrop = diff.removed.filter((n) => !body.remove.includes(n));
    return c.json(
      { from: cur?.version ?? null, diff, ...(wouldDrop.length ? { refused: { rules: wouldDrop } } : {}) },
      200,
    );
  });
  app.post("/test", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, testBody);
    const files = body.rules
      ? parseRuleFiles(body.rules, "rules", await known(sql))
      : (await current(sql)).files;
    // Each case runs json-rules-engine on this process: bounded, so one request cannot hold it.
    const cases = files.reduce((n, f) => n + f.tests.length, 0) + (body.cases?.length ?? 0);
    if (cases > MAX_TEST_CASES) {
      throw new TooLargeError(`${cases} test cases in one request; at most ${MAX_TEST_CASES}`);
    }
    const lists = await listsFor(sql, files);
    const results: Array<{ pass: boolean }> = await runRuleTests(files, lists);
    if (body.cases) {
      const evaluator = new CompiledRuleset(rulesetOf(files), lists);
      for (const tc of body.cases) {
        const { hits, failures } = evaluator.evaluate(blankFacts(tc.facts));
        const fired = hits.map((h) => h.rule).sort();
        const expected = [...tc.fires].sort();
        const result = {
          test: tc.name,
          fired,
          expected,
          pass: JSON.stringify(fired) === JSON.stringify(expected),
          failures,
        };
        results.push(result);
      }
    }
    const failed = results.filter((r) => !r.pass).length;
    return c.json({ passed: results.length - failed, failed, results }, 200);
  });
  app.get("/:version", requireRole("risk", "supervisor"), async (c) => {
    const found = await rulesetVersion(sql, versionParam(c.req.param("version")));
    return c.json({ ...found, publishedAt: found.publishedAt?.toISOString() ?? null }, 200);
  });
  app.get("/:version/diff", requireRole("risk", "supervisor"), async (c) => {
    const version = versionParam(c.req.param("version"));
    const against = c.req.query("against");
    const base = against === undefined ? version - 1 : versionParam(against, "query.against");
    const after = await rulesetVersion(sql, version);
    const before = base >= 1 ? (await rulesetVersion(sql, base)).files : [];
    return c.json(
      { version, against: base >= 1 ? base : null, diff: diffRuleFiles(before, after.files) },
      200,
    );
  });
  app.post("/:version/rollback", requireRole("risk"), async (c) => {
    const version = versionParam(c.req.param("version"));
    const target = await rulesetVersion(sql, version);
    const r = await publishRuleFiles(
      sql,
      () => target.files,
      publisherOf(c.get("principal")),
      `rollback to version ${version}`,
    );
    await announce(opts, r);
    const [body, status] = published(r);
    return c.json({ ...body, rolledBackTo: version, rules: target.files.map((f) => f.rule.name) }, status);
  });
  app.post("/", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, publishBody);
    // Stored as their authors wrote them: the desk shows a file back in its own key order.
    const files = parseRuleFiles(body.rules, "rules", await known(sql)).map((f, i) =>
      inAuthorsOrder(f, asFileShape(body.rules[i])),
    );
    await requireChangedTestsPass(sql, files);
    // Without a note, the version says what changed: worked out under the publish lock.
    const r = await publishRuleFiles(
      sql,
      replacing(files, body.remove),
      publisherOf(c.get("principal")),
      body.note ?? describe,
    );
    await announce(opts, r);
    return c.json({ ...published(r)[0], rules: files.map((f) => f.rule.name) }, published(r)[1]);
  });
  return app;
}
