/**
 * Signing in to the desk: a bearer token (advocate, supervisor, admin or risk) is exchanged for a
 * session of its own, kept in an HttpOnly, SameSite=Strict cookie; every later request is checked
 * against it, and every POST must come from the desk itself.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Sql } from "../../engine/store/database.ts";
import { createDeskSession, principalForSession, revokeDeskSession } from "../../engine/store/sessions.ts";
import { hashToken, type Principal, principalFor } from "../../engine/store/tokens.ts";
import { Layout } from "./layout.tsx";
import type { SessionsEnded } from "./streams.ts";

/** Who may sign in to the desk: advocates and supervisors for cases, the risk team for its rules. */
const DESK_ROLES: readonly string[] = ["advocate", "supervisor", "admin", "risk"];

/** The desk pages a risk token may open. */
const RISK_PAGES: readonly string[] = ["/desk/rules", "/desk/experience"];

/** The desk session cookie (path `/`: the admin queue dashboard reads it too). */
export const DESK_COOKIE = "tp_desk";
const COOKIE = DESK_COOKIE;
/** A desk session lasts a shift, ms. */
const SESSION_MS = 12 * 3600_000;

export type DeskEnv = { Variables: { principal: Principal } };

/**
 * Every POST must come from a page of the desk itself, whatever its content type (a JSON body
 * from another site passed Hono's form-only check): the browser's Sec-Fetch-Site says so, or,
 * failing that, its Origin names this desk — `publicUrl`'s origin (DESK_PUBLIC_URL) when set, else
 * the request's own Host. Never X-Forwarded-Host: whoever sends the request chooses it. A POST
 * with neither header is refused.
 */
export function sameOriginPosts(publicUrl?: string): MiddlewareHandler {
  const ours = publicUrl ? new URL(publicUrl).origin : undefined;
  return async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const site = c.req.header("sec-fetch-site");
      const origin = c.req.header("origin");
      let ok = false;
      if (site) ok = site === "same-origin";
      else if (origin) {
        try {
          const from = new URL(origin);
          ok = ours ? from.origin === ours : from.host === (c.req.header("host") ?? "");
        } catch {
          ok = false;
        }
      }
      if (!ok) return c.text("cross-site request refused", 403);
    }
    await next();
  };
}

/** `Secure` cookies: always, never, or (auto) when the request came over HTTPS, directly or via a proxy. */
function secureCookie(c: Context, mode: "auto" | boolean): boolean {
  if (mode !== "auto") return mode;
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";
}

/** `/login` and `/logout`: open to anyone (the sign-in form), mounted before `requireSession`. */
export function sessionRoutes(
  sql: Sql,
  opts: { secureCookie: "auto" | boolean; endSessions: (ended: SessionsEnded) => Promise<void> },
) {
  const app = new Hono<DeskEnv>();
  app.get("/login", (c) =>
    c.html(
      <Layout title="Sign in">
        <div class="card" style="max-width:420px">
          <h1>Sign in</h1>
          <form method="post" action="/desk/login">
            <label for="token">Token</label>
            <p class="muted" id="token-hint">
              Paste your advocate, supervisor or risk token.
            </p>
            <p>
              <input
                type="password"
                id="token"
                name="token"
                autocomplete="off"
                aria-describedby="token-hint"
                required
              />
            </p>
            <button class="primary" type="submit">
              Sign in
            </button>
          </form>
          {c.req.query("failed") ? <p class="warn">That token was not accepted.</p> : null}
        </div>
      </Layout>,
    ),
  );
  app.post("/login", async (c) => {
    const form = await c.req.parseBody();
    const token = typeof form.token === "string" ? form.token.trim() : "";
    const p = token ? await principalFor(sql, token) : undefined;
    if (!p || !DESK_ROLES.includes(p.role) || (p.role === "advocate" && !p.team))
      return c.redirect("/desk/login?failed=1", 303);
    // The cookie holds a session of its own, never the token: logging out ends it for good.
    const session = await createDeskSession(sql, p.tokenId, SESSION_MS, new Date());
    // Earlier versions kept the cookie on /desk: a browser would send that one first.
    deleteCookie(c, COOKIE, { path: "/desk" });
    setCookie(c, COOKIE, session, {
      httpOnly: true,
      sameSite: "Strict",
      secure: secureCookie(c, opts.secureCookie),
      path: "/",
      maxAge: SESSION_MS / 1000,
    });
    return c.redirect(p.role === "risk" ? "/desk/rules" : "/desk", 303);
  });
  app.post("/logout", async (c) => {
    const session = getCookie(c, COOKIE);
    if (session) {
      await revokeDeskSession(sql, session, new Date());
      // Its open pages stop hearing of cases now, in whichever process holds their streams.
      await opts.endSessions({ session: hashToken(session) });
    }
    deleteCookie(c, COOKIE, { path: "/" });
    deleteCookie(c, COOKIE, { path: "/desk" });
    return c.redirect("/desk/login", 303);
  });

  return app;
}

/** Every other desk page: a live session of a desk role, or the sign-in page. */
export function requireSession(sql: Sql): MiddlewareHandler<DeskEnv> {
  return async (c, next) => {
    const session = getCookie(c, COOKIE);
    const p = session ? await principalForSession(sql, session, new Date()) : undefined;
    if (!p || !DESK_ROLES.includes(p.role)) return c.redirect("/desk/login", 303);
    // An advocate token that names no advocate (so no team) sees nothing rather than everything.
    if (p.role === "advocate" && !p.team) return c.redirect("/desk/login?failed=1", 303);
    // The risk team's desk is its rules and what they cost customers; cases are the advocates'.
    if (p.role === "risk" && !RISK_PAGES.some((page) => c.req.path.startsWith(page)))
      return c.redirect("/desk/rules", 303);
    c.set("principal", p);
    await next();
  };
}
