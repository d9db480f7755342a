/** The experience figures of a window (GET /v1/experience?since=&until=&team=): supervisors and risk. */
import { Hono } from "hono";
import { z } from "zod";
import { ValidationError } from "../../engine/errors.ts";
import { timestamp } from "../../engine/events.ts";
import { experienceReport } from "../../engine/experience/queries.ts";
import { unknownTeam } from "../../engine/people.ts";
import type { Sql } from "../../engine/store/database.ts";
import { advocateTeams } from "../../engine/store/people.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { queryOf } from "../errors.ts";

const DAY_MS = 86_400_000;
/** The longest window a report covers: a year (its day series stays a few hundred points). */
const MAX_WINDOW_DAYS = 366;

const experienceQuery = z.strictObject({
  since: timestamp.optional(),
  until: timestamp.optional(),
  team: z.string().min(1).max(60).optional(),
});

/** The window a query asks for: until now and the 7 days before unless said; refused when backwards or over a year. */
export async function experienceWindow(
  sql: Sql,
  q: z.output<typeof experienceQuery>,
  now: Date,
): Promise<{ since: Date; until: Date; team?: string }> {
  const until = q.until ? new Date(q.until) : now;
  const since = q.since ? new Date(q.since) : new Date(until.getTime() - 7 * DAY_MS);
  if (since >= until)
    throw new ValidationError("an empty window", [{ path: "query.since", message: "must be before until" }]);
  if (until.getTime() - since.getTime() > MAX_WINDOW_DAYS * DAY_MS)
    throw new ValidationError("a window over a year", [
      { path: "query.since", message: `at most ${MAX_WINDOW_DAYS} days before until` },
    ]);
  if (q.team !== undefined) {
    const why = unknownTeam(q.team, await advocateTeams(sql));
    if (why) throw new ValidationError("unknown team", [{ path: "query.team", message: why }]);
  }
  return { since, until, ...(q.team !== undefined ? { team: q.team } : {}) };
}

export function experienceRoutes(sql: Sql, now: () => Date = () => new Date()) {
  const app = new Hono<AuthEnv>();
  app.get("/", requireRole("supervisor", "risk"), async (c) => {
    const at = now();
    const w = await experienceWindow(sql, queryOf(c, experienceQuery), at);
    return c.json(await experienceReport(sql, w, at), 200);
  });
  return app;
}
