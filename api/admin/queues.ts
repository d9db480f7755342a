/**
 * The queue dashboard for operators (bull-board) at `/admin/queues`: waiting, delayed, active,
 * failed and stalled jobs of every queue, with retry and clean. Admins only: an admin bearer
 * token, or an admin's desk session.
 */
import { createBullBoard } from "@bull-board/api";
import { BullMQAdapter } from "@bull-board/api/bullMQAdapter";
import { HonoAdapter } from "@bull-board/hono";
import { serveStatic } from "@hono/node-server/serve-static";
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import type { Sql } from "../../engine/store/database.ts";
import { principalForSession } from "../../engine/store/sessions.ts";
import { principalFor } from "../../engine/store/tokens.ts";
import type { Queues } from "../../workers/queues.ts";
import { DESK_COOKIE, sameOriginPosts } from "../desk/session.tsx";

export const QUEUES_PATH = "/admin/queues";

export function queueDashboard(sql: Sql, queues: Queues, publicUrl?: string): Hono {
  const app = new Hono();
  app.use("*", async (c, next) => {
    const bearer = c.req.header("authorization")?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    const session = getCookie(c, DESK_COOKIE);
    const p = bearer
      ? await principalFor(sql, bearer)
      : session
        ? await principalForSession(sql, session, new Date())
        : undefined;
    if (!p) {
      if (bearer)
        return c.json({ error: { code: "unauthorized", message: "unknown or revoked token" } }, 401);
      return c.redirect("/desk/login", 303);
    }
    if (p.role !== "admin")
      return c.json({ error: { code: "forbidden", message: "the queue dashboard is for admins" } }, 403);
    await next();
  });
  // Retry, promote and clean are POSTs from the dashboard's own page.
  app.use("*", sameOriginPosts(publicUrl));
  const board = new HonoAdapter(serveStatic);
  createBullBoard({
    queues: [queues.cases, queues.outreach, queues.replies, queues.actions].map((q) => new BullMQAdapter(q)),
    serverAdapter: board,
  });
  board.setBasePath(QUEUES_PATH);
  app.route("/", board.registerPlugin());
  return app;
}
