/**
 * Backtests as jobs: `POST /v1/backtests` queues a replay of a stored window (or an uploaded stream
 * of events, with the outcomes known for its customers) through a candidate ruleset on queue
 * `backtests`; `GET /v1/backtests/:id` answers its progress (events done, total, ETA) and then its
 * report. A replay never touches cases, texts or live state.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { candidateFiles } from "../../engine/backtest.ts";
import { ValidationError } from "../../engine/errors.ts";
import { eventSchema, timestamp } from "../../engine/events.ts";
import { parseRuleFiles } from "../../engine/rules/schema.ts";
import {
  type BacktestRow,
  createBacktest,
  getBacktest,
  recentBacktests,
} from "../../engine/store/backtests.ts";
import type { Sql } from "../../engine/store/database.ts";
import { listNames } from "../../engine/store/lists.ts";
import { publishedRuleset, publisherOf } from "../../engine/store/rulesets.ts";
import { owe, type Queues } from "../../workers/queues.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { errorBody, jsonBody } from "../errors.ts";

const MAX_UPLOAD_EVENTS = 200_000;

const body = z
  .strictObject({
    /**
     * Rule files (or bare rules) tried against the published version: each added, or replacing the
     * published rule of its name. None replays the published version against itself.
     */
    rules: z.array(z.unknown()).optional(),
    /** Published rules the candidate leaves out. */
    remove: z.array(z.string().max(100)).max(500).default([]),
    from: timestamp.optional(),
    to: timestamp.optional(),
    /** An uploaded stream instead of a stored window. */
    events: z.array(eventSchema).min(1).max(MAX_UPLOAD_EVENTS).optional(),
    /** What is known of the upload's customers: `{ "cus-42": "confirmed_fraud" }`. */
    labels: z.record(z.string().max(128), z.enum(["confirmed_fraud", "false_alarm"])).optional(),
    maxEvents: z.number().int().min(1).max(MAX_UPLOAD_EVENTS).default(50_000),
  })
  .superRefine((b, ctx) => {
    if (b.events) {
      if (b.from || b.to)
        ctx.addIssue({ code: "custom", path: ["events"], message: "either events or from and to, not both" });
      return;
    }
    if (!b.from) ctx.addIssue({ code: "custom", path: ["from"], message: "required without events" });
    if (!b.to) ctx.addIssue({ code: "custom", path: ["to"], message: "required without events" });
    if (b.from && b.to && Date.parse(b.to) <= Date.parse(b.from))
      ctx.addIssue({ code: "custom", path: ["to"], message: "must be after from" });
    if (b.labels) ctx.addIssue({ code: "custom", path: ["labels"], message: "labels come with events" });
  });

/** What a client polls: progress with an ETA while it runs, the report once done. */
function view(b: BacktestRow, now: number) {
  const elapsed = b.startedAt ? (now - b.startedAt.getTime()) / 1000 : 0;
  const rate = elapsed > 0 ? b.done / elapsed : 0;
  const eta =
    b.status === "running" && b.total !== null && rate > 0 ? Math.ceil((b.total - b.done) / rate) : null;
  return {
    id: b.id,
    status: b.status,
    requestedBy: b.requestedBy,
    publishedVersion: b.publishedVersion,
    progress: { done: b.done, total: b.total, etaSeconds: eta },
    createdAt: b.createdAt.toISOString(),
    finishedAt: b.finishedAt?.toISOString() ?? null,
    ...(b.report ? { report: { ...b.report, publishedVersion: b.publishedVersion } } : {}),
    ...(b.error ? { error: b.error } : {}),
  };
}

export function backtestRoutes(sql: Sql, queues: Queues, maxBytes: number) {
  const app = new Hono<AuthEnv>();
  app.post(
    "/",
    requireRole("risk"),
    // An upload is a stream of events: it may be as large as an ingest batch.
    bodyLimit({
      maxSize: maxBytes,
      onError: (c) => c.json(errorBody("too_large", `body over ${maxBytes} bytes`), 413),
    }),
    async (c) => {
      const b = await jsonBody(c, body);
      const files = b.rules ? parseRuleFiles(b.rules, "rules", { lists: await listNames(sql) }) : undefined;
      const published = await publishedRuleset(sql);
      if (!published) {
        throw new ValidationError("nothing published to compare with", [
          { path: "rules", message: "publish first" },
        ]);
      }
      const names = new Set(published.files.map((f) => f.rule.name));
      const given = new Set(files?.map((f) => f.rule.name));
      const removeIssues = b.remove.flatMap((name, i) =>
        !names.has(name)
          ? [{ path: `remove[${i}]`, message: `no rule ${name} in version ${published.version}` }]
          : given.has(name)
            ? [{ path: `remove[${i}]`, message: `${name} is also in rules` }]
            : [],
      );
      if (removeIssues.length > 0) throw new ValidationError("invalid remove", removeIssues);
      if (candidateFiles(published.files, files ?? [], b.remove).length === 0)
        throw new ValidationError("nothing left to replay", [{ path: "remove", message: "leaves no rule" }]);
      const id = await createBacktest(sql, {
        requestedBy: publisherOf(c.get("principal")).by,
        publishedVersion: published.version,
        request: {
          ...(files ? { files } : {}),
          ...(b.remove.length > 0 ? { remove: b.remove } : {}),
          ...(b.events ? { events: b.events, labels: b.labels ?? {} } : { from: b.from!, to: b.to! }),
          maxEvents: b.maxEvents,
        },
      });
      await owe(sql, queues.backtests, "backtest", { id }, { jobId: id });
      c.header("Location", `/v1/backtests/${id}`);
      return c.json(view(await getBacktest(sql, id), Date.now()), 202);
    },
  );
  app.get("/", requireRole("risk", "supervisor"), async (c) =>
    c.json({ items: await recentBacktests(sql) }, 200),
  );
  app.get("/:id", requireRole("risk", "supervisor"), async (c) =>
    c.json(view(await getBacktest(sql, c.req.param("id")), Date.now()), 200),
  );
  return app;
}
