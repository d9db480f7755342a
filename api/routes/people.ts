/** Customers and advocates: `PUT` upserts (idempotent), `GET` reads. */
import { Hono } from "hono";
import { z } from "zod";
import { assignWaitingCases, returnCasesToPreferred } from "../../engine/cases/assign.ts";
import { setAdvocateStatus } from "../../engine/cases/assignments.ts";
import { ForbiddenError, NotFoundError, ValidationError } from "../../engine/errors.ts";
import { maskPhone } from "../../engine/log.ts";
import { advocateInput, customerInput, personId } from "../../engine/people.ts";
import { audit } from "../../engine/store/audit.ts";
import type { Sql } from "../../engine/store/database.ts";
import {
  getAdvocate,
  getCustomer,
  listAdvocates,
  upsertAdvocate,
  upsertCustomer,
} from "../../engine/store/people.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { jsonBody } from "../errors.ts";
import { teamScope } from "./cases.ts";

function idParam(raw: string): string {
  const r = personId.safeParse(raw);
  if (!r.success)
    throw new ValidationError("invalid id", [
      { path: "id", message: r.error.issues[0]?.message ?? "invalid" },
    ]);
  return r.data;
}

export function customerRoutes(sql: Sql) {
  const app = new Hono<AuthEnv>();
  app.put("/:id", requireRole("supervisor"), async (c) => {
    // Customers are bank-wide: a supervisor bound to one team may not change where their texts go.
    if (teamScope(c.get("principal"))) throw new ForbiddenError("a team supervisor cannot change customers");
    const id = idParam(c.req.param("id"));
    const body = await jsonBody(c, customerInput);
    const { customer, created } = await upsertCustomer(sql, { id, ...body });
    await audit(
      sql,
      c.get("principal").tokenId,
      created ? "customer.create" : "customer.update",
      `customer:${id}`,
    );
    return c.json({ ...customer, created }, 200);
  });
  app.get("/:id", requireRole("supervisor", "advocate", "risk"), async (c) => {
    const p = c.get("principal");
    const id = idParam(c.req.param("id"));
    const customer = await getCustomer(sql, id);
    // Team-bound readers see only customers their team has a case for, as with cases.
    const team = teamScope(p);
    const [ours] = team
      ? await sql`select 1 from cases where customer_id = ${id} and team = ${team} limit 1`
      : [true];
    if (!customer || !ours) throw new NotFoundError(`customer ${id} not found`);
    const full = p.role === "supervisor" || p.role === "admin";
    return c.json(full ? customer : { ...customer, phone: maskPhone(customer.phone) }, 200);
  });
  return app;
}

const statusBody = z.strictObject({ status: z.enum(["online", "away", "offline"]) });

export function advocateRoutes(sql: Sql) {
  const app = new Hono<AuthEnv>();
  app.put("/:id", requireRole("supervisor"), async (c) => {
    const id = idParam(c.req.param("id"));
    const body = await jsonBody(c, advocateInput);
    const team = teamScope(c.get("principal"));
    if (team) {
      // A team supervisor manages their own team's advocates only.
      const existing = await getAdvocate(sql, id);
      if (body.team !== team || (existing && existing.team !== team)) {
        throw new ForbiddenError(`a supervisor of team ${team} manages only that team's advocates`);
      }
    }
    const { advocate, created } = await upsertAdvocate(sql, { id, ...body });
    await audit(
      sql,
      c.get("principal").tokenId,
      created ? "advocate.create" : "advocate.update",
      `advocate:${id}`,
      { status: body.status },
    );
    // Someone able to take cases has appeared: hand them whatever was waiting.
    if (advocate.status === "online") {
      const now = new Date();
      await returnCasesToPreferred(sql, advocate.id, now);
      await assignWaitingCases(sql, advocate.team, now);
    }
    return c.json({ ...advocate, created }, 200);
  });
  // An advocate sets their own status (online, away, offline); a supervisor, their team's.
  app.put("/:id/status", requireRole("advocate", "supervisor"), async (c) => {
    const p = c.get("principal");
    const id = idParam(c.req.param("id"));
    const { status } = await jsonBody(c, statusBody);
    if (p.role === "advocate" && p.advocateId !== id)
      throw new ForbiddenError("an advocate sets only their own status");
    const team = teamScope(p);
    const existing = await getAdvocate(sql, id);
    if (!existing || (team && existing.team !== team)) throw new NotFoundError(`advocate ${id} not found`);
    const advocate = await setAdvocateStatus(sql, id, status, p.advocateId ?? p.tokenId, new Date());
    return c.json(advocate, 200);
  });
  // A team-bound reader (an advocate, a team supervisor) sees their own team's advocates only.
  app.get("/", requireRole("supervisor", "advocate"), async (c) => {
    const own = teamScope(c.get("principal"));
    const asked = c.req.query("team");
    if (own && asked && asked !== own) return c.json({ items: [] }, 200);
    return c.json({ items: await listAdvocates(sql, own ?? asked) }, 200);
  });
  app.get("/:id", requireRole("supervisor", "advocate"), async (c) => {
    const advocate = await getAdvocate(sql, idParam(c.req.param("id")));
    const own = teamScope(c.get("principal"));
    if (!advocate || (own && advocate.team !== own))
      throw new NotFoundError(`advocate ${c.req.param("id")} not found`);
    return c.json(advocate, 200);
  });
  return app;
}
