/** The queue: open (or resolved) cases, the advocate's own first, and closed ones the customer wrote to since. */
import { Hono } from "hono";
import { casesNeedingAdvocate, type listCases } from "../../engine/store/case-views.ts";
import type { Sql } from "../../engine/store/database.ts";
import { getAdvocate } from "../../engine/store/people.ts";
import { type QueuePart, queueCases } from "../../engine/store/queue.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import { page, Severity, When } from "./layout.tsx";
import type { DeskEnv } from "./session.tsx";
import { stateInWords, teamOf, whoOf } from "./words.tsx";
import { StatusForm } from "./work.tsx";

type CaseRow = Awaited<ReturnType<typeof listCases>>[number];

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

/** How many cases each list of the queue shows at most. */
const SHOWN = 200;

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
    const offered = filtersFor(p, team);
    const show = offered.find((f) => f === c.req.query("show") && status === "open");
    // Ordered and filtered in Postgres over every case (engine/store/queue.ts), so a high case
    // older than the newest few hundred still comes first.
    const part = (part: QueuePart) => queueCases(sql, { part, team, advocateId: p.advocateId, limit: SHOWN });
    const me = p.advocateId ? await getAdvocate(sql, p.advocateId) : undefined;
    const needsYou = p.advocateId ? await casesNeedingAdvocate(sql, p.advocateId) : 0;
    // A filter is one list; the whole queue is its sections: a customer on the line (shown to the
    // team when their advocate cannot take it), closed cases the customer wrote to since, the
    // advocate's own (the customers who already know them), then the rest.
    const [shown, calling, reopened, mine, rest] = show
      ? [await part(show === "team" ? "open" : show), [], [], [], []]
      : status === "resolved"
        ? [[], [], [], [], await part("resolved")]
        : await Promise.all([
            Promise.resolve([]),
            part("calling"),
            part("reopened"),
            p.advocateId ? part("mine") : Promise.resolve([]),
            part("others"),
          ]);
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
