/**
 * The advocate desk: server-rendered pages over the same store the API reads. Sign-in takes a
 * bearer token (advocate, supervisor or admin) and keeps it in an HttpOnly, SameSite=Strict cookie;
 * an advocate sees only their team's cases, as on the API.
 */
import { type Context, Hono, type MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { Child } from "hono/jsx";
import { secureHeaders } from "hono/secure-headers";
import { NotFoundError } from "../../engine/errors.ts";
import { cleanText } from "../../engine/input.ts";
import { maskPhone } from "../../engine/log.ts";
import type { Metrics } from "../../engine/metrics.ts";
import type { Sql } from "../../engine/store/database.ts";
import {
  addTimeline,
  audit,
  type caseDetail,
  createDeskSession,
  listAdvocates,
  listCases,
  type Principal,
  principalFor,
  principalForSession,
  resolveCase,
  revokeDeskSession,
} from "../../engine/store/postgres.ts";
import { visibleCase } from "../routes/cases.ts";
import { Layout, Severity, When } from "./layout.tsx";
import { rulePages } from "./rules.tsx";

/** Who may sign in to the desk: advocates and supervisors for cases, the risk team for its rules. */
const DESK_ROLES: readonly string[] = ["advocate", "supervisor", "admin", "risk"];

/** The desk session cookie (path `/`: the admin queue dashboard reads it too). */
export const DESK_COOKIE = "tp_desk";
const COOKIE = DESK_COOKIE;
/** A desk session lasts a shift, ms. */
const SESSION_MS = 12 * 3600_000;

/**
 * Every POST must come from a page of the desk itself, whatever its content type (a JSON body
 * from another site passed Hono's form-only check): the browser's Sec-Fetch-Site says so, or,
 * failing that, its Origin names this host. A POST with neither is refused.
 */
export const sameOriginPosts: MiddlewareHandler = async (c, next) => {
  if (c.req.method !== "GET" && c.req.method !== "HEAD") {
    const site = c.req.header("sec-fetch-site");
    const origin = c.req.header("origin");
    let ok = false;
    if (site) ok = site === "same-origin";
    else if (origin) {
      try {
        ok = new URL(origin).host === (c.req.header("x-forwarded-host") ?? c.req.header("host") ?? "");
      } catch {
        ok = false;
      }
    }
    if (!ok) return c.text("cross-site request refused", 403);
  }
  await next();
};

/** `Secure` cookies: always, never, or (auto) when the request came over HTTPS, directly or via a proxy. */
function secureCookie(c: Context, mode: "auto" | boolean): boolean {
  if (mode !== "auto") return mode;
  return new URL(c.req.url).protocol === "https:" || c.req.header("x-forwarded-proto") === "https";
}
type DeskEnv = { Variables: { principal: Principal } };
type Detail = Awaited<ReturnType<typeof caseDetail>>;

const teamOf = (p: Principal) =>
  p.role === "advocate" || (p.role === "supervisor" && p.team) ? (p.team ?? undefined) : undefined;
const whoOf = (p: Principal) => `${p.advocateId ?? p.tokenId} (${p.role}${p.team ? `, ${p.team}` : ""})`;

function describeEvent(e: Detail["decisions"][number]["event"]): string {
  if (e.type === "card.transaction") {
    const where = [e.merchant.city, e.merchant.country].filter(Boolean).join(", ");
    return `${e.amount.value.toLocaleString("en-GB")} ${e.amount.currency} at ${e.merchant.name} (${where}), card ••${e.card.last4}, ${e.channel.replace("_", " ")}`;
  }
  const where = "geo" in e && e.geo ? ` from ${[e.geo.city, e.geo.country].filter(Boolean).join(", ")}` : "";
  return `${e.type}${where}`;
}

function factValue(v: unknown): string {
  if (typeof v === "number")
    return Number.isInteger(v)
      ? v.toLocaleString("en-GB")
      : v.toLocaleString("en-GB", { maximumFractionDigits: 2 });
  return JSON.stringify(v);
}

const STEP_LABEL: Record<string, string> = {
  "case.opened": "Case opened",
  "evidence.added": "Evidence",
  "case.escalated": "Escalated",
  "case.assigned": "Assigned",
  "case.unassigned": "Waiting for an advocate",
  "case.resolved": "Resolved",
  "case.confirmed": "Customer confirmed fraud",
  "note.added": "Note",
  "phone.revealed": "Number shown to call",
  "contact.decided": "Contact policy",
  "message.sent": "Text",
  "message.status": "Delivery",
  "reply.received": "Customer replied",
  "action.card_block": "Card block requested",
  "action.account_lock": "Account lock requested",
  "advocate.alerted": "Advocate alerted",
  "task.call_customer": "Task: call the customer",
};

function stepText(kind: string, d: Record<string, unknown>): string {
  switch (kind) {
    case "case.opened":
      return `${d.title} (${d.severity})`;
    case "evidence.added":
      return `${d.title} — rule ${d.rule}, event ${d.eventId}`;
    case "case.assigned":
    case "case.unassigned":
      return `${d.advocateName ?? "nobody"}: ${d.reason}`;
    case "case.resolved":
      return `${d.outcome}${d.note ? ` — ${d.note}` : ""}`;
    case "note.added":
      return String(d.text);
    default:
      return typeof d.reason === "string"
        ? d.reason
        : typeof d.text === "string"
          ? d.text
          : JSON.stringify(d);
  }
}

function CasePage({
  c,
  principal,
  revealPhone = false,
}: {
  c: Detail;
  principal: Principal;
  revealPhone?: boolean;
}) {
  const open = c.status === "open";
  return (
    <Layout title={c.title} who={whoOf(principal)} role={principal.role}>
      <h1>
        {c.title} <Severity value={c.severity} />
      </h1>
      {c.attention ? <p class="attention">Needs you: {c.attention}</p> : null}
      <p class="muted">
        {c.id} · opened <When at={c.openedAt} /> ·{" "}
        {open ? (
          <b>open{c.outcome ? `, ${c.outcome.replace("_", " ")} by the customer` : ""}</b>
        ) : (
          <b class="ok">resolved: {c.outcome}</b>
        )}{" "}
        · advocate <b>{c.advocate?.name ?? "waiting for an advocate"}</b>
      </p>
      <div class="grid">
        <section>
          <div class="card">
            <h2>Customer</h2>
            {c.customer ? (
              <table>
                <tbody>
                  <tr>
                    <th>Name</th>
                    <td>{c.customer.name}</td>
                  </tr>
                  <tr>
                    <th>Phone</th>
                    <td>
                      {revealPhone ? <b>{c.customer.phone}</b> : maskPhone(c.customer.phone)}{" "}
                      {c.customer.optedOut ? <span class="warn">opted out of texts</span> : null}
                      {revealPhone ? null : (
                        <form class="inline" method="post" action={`/desk/cases/${c.id}/phone`}>
                          <button
                            type="submit"
                            title="Shows the full number; the audit log records who asked"
                          >
                            Show number to call
                          </button>
                        </form>
                      )}
                    </td>
                  </tr>
                  <tr>
                    <th>Home</th>
                    <td>
                      {c.customer.homeCountry} · {c.customer.timezone ?? "zone from country"} ·{" "}
                      {c.customer.language}
                    </td>
                  </tr>
                </tbody>
              </table>
            ) : (
              <p class="warn">Unknown customer {c.customerId}</p>
            )}
          </div>
          <div class="card">
            <h2>Before this case</h2>
            {c.previousCases.length === 0 ? (
              <p class="muted">First case for this customer.</p>
            ) : (
              <ul>
                {c.previousCases.map((p) => (
                  <li>
                    <a href={`/desk/cases/${p.id}`}>{p.title}</a> — <When at={p.openedAt} />,{" "}
                    {p.outcome ?? p.status}
                    {p.advocateName ? `, with ${p.advocateName}` : ""}
                    {p.lastNote ? <div class="muted">“{p.lastNote}”</div> : null}
                  </li>
                ))}
              </ul>
            )}
          </div>
          <div class="card">
            <h2>Texts</h2>
            {c.messages.length === 0 ? <p class="muted">No texts yet.</p> : null}
            {c.messages.map((m) => (
              <div class={`msg ${m.direction === "inbound" ? "in" : "out"}`}>
                <div class="muted">
                  {m.direction === "inbound" ? "customer →" : "→ customer"} · <When at={m.createdAt} /> ·{" "}
                  {m.status}{" "}
                  {m.transport === "outbox" && m.direction === "outbound" ? (
                    <span class="outbox">OUTBOX — NOT SENT</span>
                  ) : null}
                </div>
                <div>{m.body}</div>
              </div>
            ))}
          </div>
          {open ? (
            <div class="card">
              <h2>Resolve</h2>
              <form method="post" action={`/desk/cases/${c.id}/resolve`}>
                <p>
                  <textarea name="note" rows={2} placeholder="What the customer said (optional)" />
                </p>
                <button class="danger" name="outcome" value="confirmed_fraud" type="submit">
                  Confirmed fraud
                </button>{" "}
                <button class="primary" name="outcome" value="false_alarm" type="submit">
                  False alarm
                </button>
              </form>
            </div>
          ) : null}
        </section>
        <section>
          <div class="card">
            <h2>Why this case</h2>
            {c.decisions.map((d) => (
              <div style="margin-bottom:12px">
                <div>
                  <Severity value={d.severity} /> <b>{d.title}</b>{" "}
                  <span class="muted">
                    rule {d.rule} v{d.rulesetVersion}
                  </span>
                </div>
                <div class="muted">
                  {describeEvent(d.event)} · <When at={d.event.occurredAt} />
                </div>
                <ul>
                  {(
                    (
                      d.explanation as {
                        held?: Array<{ fact: string; operator: string; value: unknown; factValue: unknown }>;
                      }
                    ).held ?? []
                  ).map((h) => (
                    <li>
                      <code>{h.fact}</code> was <b>{factValue(h.factValue)}</b>{" "}
                      <span class="muted">
                        ({h.operator} {factValue(h.value)})
                      </span>
                    </li>
                  ))}
                </ul>
              </div>
            ))}
          </div>
          <div class="card">
            <h2>Timeline</h2>
            <ol class="timeline">
              {c.timeline.map((s) => (
                <li>
                  <span class="when">
                    <When at={s.at} />
                  </span>
                  <b>{STEP_LABEL[s.kind] ?? s.kind}</b>{" "}
                  {stepText(s.kind, s.detail as Record<string, unknown>)}
                  {s.actor !== "system" ? <span class="muted"> — {s.actor}</span> : null}
                </li>
              ))}
            </ol>
            <form method="post" action={`/desk/cases/${c.id}/notes`}>
              <p>
                <textarea
                  name="text"
                  rows={2}
                  placeholder="Add a note for whoever helps this customer next"
                  required
                />
              </p>
              <button type="submit">Add note</button>
            </form>
          </div>
        </section>
      </div>
    </Layout>
  );
}

function CaseTable({ rows }: { rows: Child }) {
  return (
    <table>
      <thead>
        <tr>
          <th>Case</th>
          <th>Severity</th>
          <th>Customer</th>
          <th>Advocate</th>
          <th>Opened</th>
          <th>State</th>
        </tr>
      </thead>
      <tbody>{rows}</tbody>
    </table>
  );
}

export function deskRoutes(sql: Sql, opts: { secureCookie: "auto" | boolean; metrics?: Metrics }) {
  const app = new Hono<DeskEnv>();
  // Pages run no scripts and are never framed; styles are the page's own.
  app.use(
    "*",
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'none'"],
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
  app.use("*", sameOriginPosts);

  const page = (title: string, body: Child, who?: string, refresh?: number, role?: string) => (
    <Layout title={title} who={who} refresh={refresh} role={role}>
      {body}
    </Layout>
  );

  app.get("/login", (c) =>
    c.html(
      page(
        "Sign in",
        <div class="card" style="max-width:420px">
          <h1>Sign in</h1>
          <p class="muted">Paste your advocate, supervisor or risk token.</p>
          <form method="post" action="/desk/login">
            <p>
              <input type="password" name="token" autocomplete="off" required />
            </p>
            <button class="primary" type="submit">
              Sign in
            </button>
          </form>
          {c.req.query("failed") ? <p class="warn">That token was not accepted.</p> : null}
        </div>,
      ),
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
    if (session) await revokeDeskSession(sql, session, new Date());
    deleteCookie(c, COOKIE, { path: "/" });
    deleteCookie(c, COOKIE, { path: "/desk" });
    return c.redirect("/desk/login", 303);
  });

  app.use("*", async (c, next) => {
    const session = getCookie(c, COOKIE);
    const p = session ? await principalForSession(sql, session, new Date()) : undefined;
    if (!p || !DESK_ROLES.includes(p.role)) return c.redirect("/desk/login", 303);
    // An advocate token that names no advocate (so no team) sees nothing rather than everything.
    if (p.role === "advocate" && !p.team) return c.redirect("/desk/login?failed=1", 303);
    // The risk team's desk is its rules; cases are the advocates'.
    if (p.role === "risk" && !c.req.path.startsWith("/desk/rules")) return c.redirect("/desk/rules", 303);
    c.set("principal", p);
    await next();
  });
  app.route("/rules", rulePages(sql));

  app.get("/", async (c) => {
    const p = c.get("principal");
    const team = teamOf(p);
    const status = c.req.query("status") === "resolved" ? "resolved" : "open";
    const items = await listCases(sql, { status, limit: 200, ...(team ? { team } : {}) });
    // An advocate's own cases come first: the customers who already know them.
    const mine = p.advocateId ? items.filter((i) => i.advocateId === p.advocateId) : [];
    // Closed cases the customer wrote to afterwards still need someone.
    const reopened =
      status === "open"
        ? (await listCases(sql, { status: "resolved", limit: 200, ...(team ? { team } : {}) })).filter(
            (i) => i.attention,
          )
        : [];
    const rest = items.filter((i) => !mine.includes(i));
    const rows = (list: typeof items) =>
      list.map((i) => (
        <tr>
          <td>
            <a href={`/desk/cases/${i.id}`}>{i.title}</a>
            {i.attention ? <div class="attention-small">{i.attention}</div> : null}
          </td>
          <td>
            <Severity value={i.severity} />
          </td>
          <td>{i.customerId}</td>
          <td>{i.advocate?.name ?? <span class="warn">waiting</span>}</td>
          <td>
            <When at={i.openedAt} />
          </td>
          <td>{i.outcome ?? i.status}</td>
        </tr>
      ));
    return c.html(
      page(
        "Cases",
        <div>
          <h1>{status === "open" ? "Open cases" : "Resolved cases"}</h1>
          <p>
            <a href={status === "open" ? "/desk?status=resolved" : "/desk"}>
              {status === "open" ? "Show resolved" : "Show open"}
            </a>
          </p>
          {reopened.length > 0 ? (
            <div class="card">
              <h2>Closed, but the customer wrote since</h2>
              <CaseTable rows={rows(reopened)} />
            </div>
          ) : null}
          {mine.length > 0 ? (
            <div class="card">
              <h2>Yours</h2>
              <CaseTable rows={rows(mine)} />
            </div>
          ) : null}
          <div class="card">
            <h2>{team ? `Team ${team}` : "All teams"}</h2>
            {rest.length === 0 ? <p class="muted">Nothing here.</p> : <CaseTable rows={rows(rest)} />}
          </div>
        </div>,
        whoOf(p),
        20,
        p.role,
      ),
    );
  });

  app.get("/advocates", async (c) => {
    const p = c.get("principal");
    const team = teamOf(p);
    const advocates = await listAdvocates(sql, team);
    const waiting = await listCases(sql, { status: "open", limit: 500, ...(team ? { team } : {}) });
    const unassigned = waiting.filter((w) => !w.advocateId).length;
    return c.html(
      page(
        "Advocates",
        <div>
          <h1>Advocates{team ? ` of team ${team}` : ""}</h1>
          <p class={unassigned > 0 ? "warn" : "muted"}>
            {unassigned} open case{unassigned === 1 ? "" : "s"} waiting for an advocate
          </p>
          <div class="card">
            <table>
              <thead>
                <tr>
                  <th>Advocate</th>
                  <th>Team</th>
                  <th>Status</th>
                  <th>Open cases</th>
                </tr>
              </thead>
              <tbody>
                {advocates.map((a) => (
                  <tr>
                    <td>{a.name}</td>
                    <td>{a.team}</td>
                    <td class={a.status === "online" ? "ok" : "muted"}>{a.status}</td>
                    <td class={a.open >= a.capacity ? "warn" : ""}>
                      {a.open} of {a.capacity}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>,
        whoOf(p),
        30,
        p.role,
      ),
    );
  });

  app.get("/cases/:id", async (c) => {
    const p = c.get("principal");
    try {
      const detail = await visibleCase(sql, p, c.req.param("id"));
      return c.html(<CasePage c={detail} principal={p} />);
    } catch (err) {
      if (err instanceof NotFoundError) return c.html(page("Not found", <p>No such case.</p>, whoOf(p)), 404);
      throw err;
    }
  });

  app.post("/cases/:id/resolve", async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const form = await c.req.parseBody();
    const outcome =
      form.outcome === "confirmed_fraud"
        ? "confirmed_fraud"
        : form.outcome === "false_alarm"
          ? "false_alarm"
          : null;
    if (outcome) {
      const note =
        typeof form.note === "string" && form.note.trim() ? cleanText(form.note).trim().slice(0, 4000) : null;
      const r = await resolveCase(sql, kase.id, outcome, p.advocateId ?? p.tokenId, `resolved:${kase.id}`, {
        by: "advocate",
        note,
      });
      if (r.resolved) opts.metrics?.timeToResolve.observe({ outcome, by: "advocate" }, r.secondsOpen);
    }
    return c.redirect(`/desk/cases/${kase.id}`, 303);
  });

  // Advocates call customers, so they may see the number; every look is in the audit log.
  app.post("/cases/:id/phone", async (c) => {
    const p = c.get("principal");
    const detail = await visibleCase(sql, p, c.req.param("id"));
    await audit(sql, p.advocateId ?? p.tokenId, "customer.phone_revealed", `customer:${detail.customerId}`, {
      caseId: detail.id,
    });
    // On the timeline too: whoever looked up the number is about to call, so the case is in hand.
    await addTimeline(
      sql,
      detail.id,
      "phone.revealed",
      `reveal:${detail.id}:${crypto.randomUUID()}`,
      { reason: "number shown to call the customer" },
      { actor: p.advocateId ?? p.tokenId },
    );
    c.header("Cache-Control", "no-store");
    return c.html(<CasePage c={detail} principal={p} revealPhone />);
  });

  app.post("/cases/:id/notes", async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const form = await c.req.parseBody();
    const text = typeof form.text === "string" ? cleanText(form.text).trim().slice(0, 4000) : "";
    if (text) {
      await addTimeline(
        sql,
        kase.id,
        "note.added",
        `note:${kase.id}:${crypto.randomUUID()}`,
        { text },
        { actor: p.advocateId ?? p.tokenId },
      );
      await audit(sql, p.tokenId, "case.note", `case:${kase.id}`);
    }
    return c.redirect(`/desk/cases/${kase.id}`, 303);
  });

  return app;
}
