/**
 * `GET /v1/contact-strategy`: the contact strategy in force (the bank's CONTACT_STRATEGY_FILE or
 * the shipped default) and which channels this deployment can use, so whoever reads a case's
 * timeline can see the rule behind each step.
 */
import { Hono } from "hono";
import type { Strategy } from "../../engine/outreach/strategy.ts";
import { type AuthEnv, requireRole } from "../auth.ts";

export function strategyRoutes(strategy: Strategy, channels: ReadonlySet<string>) {
  const app = new Hono<AuthEnv>();
  app.get("/", requireRole("advocate", "supervisor", "risk"), (c) =>
    c.json(
      { strategy, channels: ["sms", ...["whatsapp", "voice", "app"].filter((x) => channels.has(x))] },
      200,
    ),
  );
  return app;
}
