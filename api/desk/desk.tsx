/**
 * The advocate desk: server-rendered pages over the same store the API reads, one file per page
 * (queue, case, advocates, rules, lists, experience) and the sign-in (session.tsx). An advocate sees only their
 * team's cases, as on the API; the risk team sees its rules.
 */

import { Hono } from "hono";
import { secureHeaders } from "hono/secure-headers";
import type { CountryCode } from "libphonenumber-js";
import type { Metrics } from "../../engine/metrics.ts";
import type { CaseActions } from "../../engine/outreach/card-actions.ts";
import type { Strategy } from "../../engine/outreach/strategy.ts";
import type { Sql } from "../../engine/store/database.ts";
import type { Queues } from "../../workers/queues.ts";
import type { Told } from "../routes/rules.ts";
import { advocateRoutes } from "./advocates.tsx";
import { cannedReplyPages } from "./canned-replies.tsx";
import { caseRoutes } from "./case-page.tsx";
import { type ExperienceSource, experiencePage } from "./experience.tsx";
import { listPages } from "./lists.tsx";
import { DeskFeed, liveRoutes } from "./live.ts";
import { queueRoutes } from "./queue.tsx";
import { rulePages } from "./rules.tsx";
import { searchRoutes } from "./search.tsx";
import { type DeskEnv, requireSession, sameOriginPosts, sessionRoutes } from "./session.tsx";
import type { DeskStreams, SessionsEnded } from "./streams.ts";
import { workRoutes } from "./work.tsx";

export function deskRoutes(
  sql: Sql,
  opts: {
    secureCookie: "auto" | boolean;
    /** DESK_PUBLIC_URL: the origin a browser's POST must come from; the request's Host when unset. */
    publicUrl?: string | undefined;
    metrics?: Metrics;
    texting: CaseActions;
    /** The contact strategy: when the case page says the next steps will come. */
    strategy: Strategy;
    phoneCountry?: CountryCode | undefined;
    /** Open live streams by session, and how a sign-out ends them in every process. */
    streams: DeskStreams;
    endSessions: (ended: SessionsEnded) => Promise<void>;
    /** The experience report, for its page and the Rules page's cost to customers. */
    experience: ExperienceSource;
    /** Where a backtest started from the Rules page goes. */
    queues: Pick<Queues, "backtests">;
    /** How a rule published from the Rules page is told to the workers. */
    told: Told;
    /** Where to leave what must end before the HTTP server can close. */
    closers?: Array<() => void>;
  },
) {
  const app = new Hono<DeskEnv>();
  const feed = new DeskFeed(sql);
  opts.closers?.push(() => feed.close());
  // Pages run only our own script and are never framed; styles are the page's own.
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        // One script of our own: the live updates (/desk/live.js); nothing inline, nothing foreign.
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        objectSrc: ["'none'"],
      },
      xFrameOptions: "DENY",
      referrerPolicy: "no-referrer",
    }),
  );
  app.use("*", sameOriginPosts(opts.publicUrl));
  app.route("/", sessionRoutes(sql, opts));
  app.use("*", requireSession(sql));
  app.route("/", liveRoutes(sql, feed, opts.streams));
  app.route("/rules", rulePages(sql, { report: opts.experience, queues: opts.queues, told: opts.told }));
  app.route("/lists", listPages(sql));
  app.route("/experience", experiencePage(sql, { report: opts.experience }));
  app.route("/", queueRoutes(sql));
  app.route("/", advocateRoutes(sql));
  app.route("/canned-replies", cannedReplyPages(sql, opts.texting.bank.phone));
  app.route("/", caseRoutes(sql, opts));
  app.route("/", searchRoutes(sql, opts));
  app.route("/", workRoutes(sql));
  return app;
}
