/**
 * `POST /v1/calls`: the telephony system says a customer is calling. The call goes on their open
 * (or latest) case's timeline, and the case is pushed to whoever should pick up: its advocate's
 * desk when they are online, else every desk of the team (the desk's live feed carries it).
 */
import { Hono } from "hono";
import type { CountryCode } from "libphonenumber-js";
import { z } from "zod";
import { ValidationError } from "../../engine/errors.ts";
import { text } from "../../engine/events.ts";
import { maskPhone } from "../../engine/log.ts";
import { lookupPhone } from "../../engine/people.ts";
import type { Sql } from "../../engine/store/database.ts";
import { casesForPhone } from "../../engine/store/lookup.ts";
import { getAdvocate } from "../../engine/store/people.ts";
import { addTimeline } from "../../engine/store/timeline.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { jsonBody } from "../errors.ts";
import { teamScope } from "./cases.ts";

const callBody = z.strictObject({
  /** The caller's number, in any common format. */
  from: z.string().min(3).max(40),
  /** The bank's number they dialled, when the telephony system says. */
  to: text(40).optional(),
  /** The telephony system's id for the call: a retry of the same call is recorded once (so never blank). */
  callId: text(100).optional(),
});

export function callRoutes(sql: Sql, phoneCountry?: CountryCode | undefined) {
  const app = new Hono<AuthEnv>();
  app.post("/", requireRole("ingest", "supervisor"), async (c) => {
    const body = await jsonBody(c, callBody);
    const from = lookupPhone(body.from, phoneCountry);
    if (!from)
      throw new ValidationError("bad phone", [
        { path: "from", message: "not a phone number; e.g. +447911123042 or 07911 123042" },
      ]);
    // A team's supervisor reports calls for their team's customers only.
    const [caseId] = await casesForPhone(sql, from, teamScope(c.get("principal")));
    if (!caseId) return c.json({ caseId: null, pushedTo: null, reason: "no case for this number" }, 200);
    const [kase] = await sql`select advocate_id, team from cases where id = ${caseId}`;
    const advocate = kase?.advocate_id ? await getAdvocate(sql, kase.advocate_id as string) : undefined;
    const pushedTo = advocate?.status === "online" ? "advocate" : "team";
    const now = new Date();
    const reason =
      pushedTo === "advocate"
        ? `the customer is calling (${maskPhone(from)}); put through to ${advocate!.name}`
        : `the customer is calling (${maskPhone(from)}); ${advocate ? `${advocate.name} is ${advocate.status}` : "nobody has the case"}: anyone of team ${kase!.team}`;
    await addTimeline(
      sql,
      caseId,
      "call.received",
      `call:${caseId}:${body.callId ?? crypto.randomUUID()}`,
      { reason, pushedTo, ...(body.to ? { dialled: body.to } : {}) },
      { actor: c.get("principal").label || c.get("principal").tokenId, at: now },
    );
    return c.json(
      {
        caseId,
        pushedTo,
        advocate: advocate ? { id: advocate.id, name: advocate.name, status: advocate.status } : null,
      },
      200,
    );
  });
  return app;
}
