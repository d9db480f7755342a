/** Tokens and rulesets: what admins and the risk team manage. */
import { Hono } from "hono";
import type { Redis } from "ioredis";
import { z } from "zod";
import { backtest } from "../../engine/backtest.ts";
import { ValidationError } from "../../engine/errors.ts";
import { timestamp } from "../../engine/events.ts";
import { teamName } from "../../engine/people.ts";
import { blankFacts } from "../../engine/rules/facts.ts";
import { Evaluator } from "../../engine/rules/reference.ts";
import { parseRuleset } from "../../engine/rules/schema.ts";
import type { Sql } from "../../engine/store/database.ts";
import {
  audit,
  checkTokenRequest,
  createToken,
  publishedRuleset,
  publishRuleset,
  ruleStats,
  rulesetVersion,
  rulesetVersions,
} from "../../engine/store/postgres.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { jsonBody } from "../errors.ts";

const tokenBody = z
  .strictObject({
    role: z.enum(["ingest", "risk", "advocate", "supervisor", "admin"]),
    advocateId: z.string().max(128).optional(),
    team: teamName.optional(),
    label: z.string().max(200).default(""),
  })
  .refine((t) => t.role !== "advocate" || t.advocateId, {
    message: "an advocate token names its advocate",
    path: ["advocateId"],
  });

const publishBody = z.strictObject({ rules: z.array(z.unknown()), note: z.string().max(2000).default("") });
const testBody = z.strictObject({
  rules: z.array(z.unknown()).optional(),
  cases: z
    .array(
      z.strictObject({
        name: z.string(),
        facts: z.record(z.string(), z.unknown()),
        fires: z.array(z.string()),
      }),
    )
    .min(1)
    .max(1000),
});

export function tokenRoutes(sql: Sql) {
  const app = new Hono<AuthEnv>();
  app.post("/", requireRole(), async (c) => {
    const body = await jsonBody(c, tokenBody);
    await checkTokenRequest(sql, body);
    const made = await createToken(sql, body);
    await audit(sql, c.get("principal").tokenId, "token.create", `token:${made.id}`, { role: body.role });
    return c.json({ ...made, role: body.role }, 201);
  });
  return app;
}

const backtestBody = z.strictObject({
  rules: z.array(z.unknown()).optional(),
  from: timestamp,
  to: timestamp,
  maxEvents: z.number().int().min(1).max(200_000).default(50_000),
});

export function rulesetRoutes(sql: Sql, opts: { redis: Redis; redisPrefix: string }) {
  const app = new Hono<AuthEnv>();
  app.get("/", requireRole("risk", "supervisor"), async (c) =>
    c.json({ items: await rulesetVersions(sql) }, 200),
  );
  app.post("/:version/rollback", requireRole("risk"), async (c) => {
    const version = Number(c.req.param("version"));
    if (!Number.isInteger(version) || version < 1 || version > 2_147_483_647) {
      throw new ValidationError("invalid version", [{ path: "version", message: "a positive integer" }]);
    }
    const ruleset = parseRuleset(await rulesetVersion(sql, version));
    const published = await publishRuleset(
      sql,
      ruleset,
      c.get("principal").tokenId,
      `rollback to version ${version}`,
    );
    return c.json(
      { version: published, rolledBackTo: version, rules: ruleset.rules.map((r) => r.name) },
      201,
    );
  });
  app.post("/backtest", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, backtestBody);
    const current = await publishedRuleset(sql);
    if (!current)
      throw new ValidationError("nothing published to compare with", [
        { path: "rules", message: "publish first" },
      ]);
    const candidate = body.rules ? parseRuleset({ rules: body.rules }) : current.ruleset;
    const from = new Date(body.from);
    const to = new Date(body.to);
    if (to <= from)
      throw new ValidationError("empty window", [{ path: "to", message: "must be after from" }]);
    const result = await backtest(
      { sql, redis: opts.redis, prefix: opts.redisPrefix },
      { candidate, published: current.ruleset, from, to, maxEvents: body.maxEvents },
    );
    return c.json({ publishedVersion: current.version, ...result }, 200);
  });
  app.get("/current", requireRole("risk", "supervisor"), async (c) =>
    c.json((await publishedRuleset(sql)) ?? null, 200),
  );
  app.get("/stats", requireRole("risk", "supervisor"), async (c) =>
    c.json({ items: await ruleStats(sql) }, 200),
  );
  app.post("/validate", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, z.strictObject({ rules: z.array(z.unknown()) }));
    const ruleset = parseRuleset(body);
    return c.json({ valid: true, rules: ruleset.rules.map((r) => r.name) }, 200);
  });
  app.post("/test", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, testBody);
    const ruleset = body.rules ? parseRuleset({ rules: body.rules }) : (await publishedRuleset(sql))?.ruleset;
    if (!ruleset)
      throw new ValidationError("no ruleset to test", [
        { path: "rules", message: "none given and none published" },
      ]);
    const evaluator = new Evaluator(ruleset);
    const results = [];
    for (const tc of body.cases) {
      const { hits, failures } = await evaluator.evaluate(blankFacts(tc.facts));
      const fired = hits.map((h) => h.rule).sort();
      results.push({
        name: tc.name,
        fired,
        expected: [...tc.fires].sort(),
        pass: JSON.stringify(fired) === JSON.stringify([...tc.fires].sort()),
        failures,
      });
    }
    return c.json(
      {
        passed: results.filter((r) => r.pass).length,
        failed: results.filter((r) => !r.pass).length,
        results,
      },
      200,
    );
  });
  app.post("/", requireRole("risk"), async (c) => {
    const body = await jsonBody(c, publishBody);
    const ruleset = parseRuleset({ rules: body.rules });
    const version = await publishRuleset(sql, ruleset, c.get("principal").tokenId, body.note);
    return c.json({ version, rules: ruleset.rules.map((r) => r.name) }, 201);
  });
  return app;
}
