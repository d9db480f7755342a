/** The queue: open (or resolved) cases, the advocate's own first, and closed ones the customer wrote to since. */
import { Hono } from "hono";
import type { Sql } from "../../engine/store/database.ts";
import {
  casesAwaitingReply,
  casesNeedingAdvocate,
  getAdvocate,
  listCases,
  type Principal,
} from "../../engine/store/postgres.ts";
import { page, Severity, When } from "./layout.tsx";
import type { DeskEnv } from "./session.tsx";
import { stateInWords, teamOf, whoOf } from "./words.tsx";
import { StatusForm } from "./work.tsx";

type CaseRow = Awaited<ReturnType<typeof listCases>>[number];

const SEVERITY_RANK: Record<string, number> = { high: 0, medium: 1, low: 2 };

/**
 * The order an advocate works in: what needs them now (a call, a task, an alert nobody has
 * answered: `attention`), then severity, high first, then age, oldest first.
 */
export function byNeed(a: CaseRow, b: CaseRow): number {
  return (
    Number(b.attention !== null) - Number(a.attention !== null) ||
    (SEVERITY_RANK[a.severity] ?? 3) - (SEVERITY_RANK[b.severity] ?? 3) ||
    a.openedAt.localeCompare(b.openedAt)
  );
}

/** Cases as a table: title (and what needs doing), severity, customer by name, advocate, opened, state. */
export function CaseTable({ items }: { items: readonly CaseRow[] }) {
  return (
    <table class="cases">
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
      <tbody>
        {items.map((i) => (
          <tr>
            <td data-label="Case">
              <a href={`/desk/cases/${i.id}`}>{i.title}</a>
              {i.attention ? <div class="attention-small">{i.attention}</div> : null}
            </td>
            <td data-label="Severity">
              <Severity value={i.severity} />
            </td>
            <td data-label="Customer">{i.customerName ?? i.customerId}</td>
            <td data-label="Advocate">{i.advocate?.name ?? <span class="warn">waiting</span>}</td>
            <td data-label="Opened">
              <When at={i.openedAt} />
            </td>
            <td data-label="State">{stateInWords(i)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The queue's filters, by the `show` in its address; each a link, so the server draws the list. */
const FILTERS = {
  "needs-me": "Needs me",
  waiting: "Waiting on the customer",
  mine: "Mine",
  team: "My team",
} as const;
type Filter = keyof typeof FILTERS;

/** The filters this viewer has: "mine" needs an advocate, "my team" a team. */
function filtersFor(p: Principal, team: string | undefined): Filter[] {
  return (Object.keys(FILTERS) as Filter[]).filter(
    (f) => (f !== "mine" || p.advocateId !== null) && (f !== "team" || team !== undefined),
  );
}

function FilterLinks({ offered, on }: { offered: readonly Filter[]; on: Filter | undefined }) {
  const link = (href: string, label: string, current: boolean) => (
    <a href={href} class={current ? "on" : undefined} aria-current={current ? "page" : undefined}>
      {label}
    </a>
  );
  return (
    <nav class="tabs filters" aria-label="Filter the queue">
      {link("/desk", "All", on === undefined)}
      {offered.map((f) => link(`/desk?show=${f}`, FILTERS[f], on === f))}
    </nav>
  );
}

export function queueRoutes(sql: Sql) {
  const app = new Hono<DeskEnv>();
  app.get("/", async (c) => {
    const p = c.get("principal");
    const team = teamOf(p);
    const status = c.req.query("status") === "resolved" ? "resolved" : "open";
    const items = (await listCases(sql, { status, limit: 200, ...(team ? { team } : {}) })).sort(byNeed);
    // An advocate's own cases come first: the customers who already know them.
    const mine = p.advocateId ? items.filter((i) => i.advocateId === p.advocateId) : [];
    // Closed cases the customer wrote to afterwards still need someone.
    const reopened =
      status === "open"
        ? (await listCases(sql, { status: "resolved", limit: 200, ...(team ? { team } : {}) }))
            .filter((i) => i.attention)
            .sort(byNeed)
        : [];
    // A customer on the line: shown to the team when their advocate cannot take it (offline, away).
    const calling = items.filter(
      (i) => i.attention?.startsWith("the customer is calling") && !i.attention.includes("; put through to"),
    );
    const rest = items.filter((i) => !mine.includes(i));
    const me = p.advocateId ? await getAdvocate(sql, p.advocateId) : undefined;
    const needsYou = p.advocateId ? await casesNeedingAdvocate(sql, p.advocateId) : 0;
    const offered = filtersFor(p, team);
    const show = offered.find((f) => f === c.req.query("show") && status === "open");
    // What needs an advocate is their own cases' (the header's count); a supervisor's, every case's.
    const needsMe = (i: CaseRow) => i.attention !== null && (!p.advocateId || i.advocateId === p.advocateId);
    const awaiting =
      show === "waiting"
        ? await casesAwaitingReply(
            sql,
            items.map((i) => i.id),
          )
        : new Set();
    const shown =
      show === "needs-me"
        ? [...items, ...reopened].filter(needsMe).sort(byNeed)
        : show === "waiting"
          ? items.filter((i) => i.attention === null && awaiting.has(i.id))
          : show === "mine"
            ? mine
            : items;
    return c.html(
      page(
        "Cases",
        <div>
          <h1>{status === "open" ? "Open cases" : "Resolved cases"}</h1>
          {me ? <StatusForm status={me.status} /> : null}
          <p>
            <a href={status === "open" ? "/desk?status=resolved" : "/desk"}>
              {status === "open" ? "Show resolved" : "Show open"}
            </a>
          </p>
          {status === "open" ? <FilterLinks offered={offered} on={show} /> : null}
          <div id="queue" data-live>
            {show ? (
              <div class="card">
                <h2>{FILTERS[show]}</h2>
                {shown.length === 0 ? <p class="muted">Nothing here.</p> : <CaseTable items={shown} />}
              </div>
            ) : null}
            {!show && calling.length > 0 ? (
              <div class="card calling">
                <h2>Calling now</h2>
                <CaseTable items={calling} />
              </div>
            ) : null}
            {!show && reopened.length > 0 ? (
              <div class="card">
                <h2>Closed, but the customer wrote since</h2>
                <CaseTable items={reopened} />
              </div>
            ) : null}
            {!show && mine.length > 0 ? (
              <div class="card">
                <h2>Yours</h2>
                <CaseTable items={mine} />
              </div>
            ) : null}
            {show ? null : (
              <div class="card">
                <h2>{team ? `Team ${team}` : "All teams"}</h2>
                {rest.length === 0 ? <p class="muted">Nothing here.</p> : <CaseTable items={rest} />}
              </div>
            )}
          </div>
        </div>,
        whoOf(p),
        p.role,
        undefined,
        needsYou,
      ),
    );
  });

  return app;
}
