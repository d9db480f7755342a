/** The queue: open (or resolved) cases, the advocate's own first, and closed ones the customer wrote to since. */
import { Hono } from "hono";
import type { Sql } from "../../engine/store/database.ts";
import { getAdvocate, listCases } from "../../engine/store/postgres.ts";
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
      <tbody>
        {items.map((i) => (
          <tr>
            <td>
              <a href={`/desk/cases/${i.id}`}>{i.title}</a>
              {i.attention ? <div class="attention-small">{i.attention}</div> : null}
            </td>
            <td>
              <Severity value={i.severity} />
            </td>
            <td>{i.customerName ?? i.customerId}</td>
            <td>{i.advocate?.name ?? <span class="warn">waiting</span>}</td>
            <td>
              <When at={i.openedAt} />
            </td>
            <td>{stateInWords(i)}</td>
          </tr>
        ))}
      </tbody>
    </table>
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
          <div id="queue" data-live>
            {calling.length > 0 ? (
              <div class="card calling">
                <h2>Calling now</h2>
                <CaseTable items={calling} />
              </div>
            ) : null}
            {reopened.length > 0 ? (
              <div class="card">
                <h2>Closed, but the customer wrote since</h2>
                <CaseTable items={reopened} />
              </div>
            ) : null}
            {mine.length > 0 ? (
              <div class="card">
                <h2>Yours</h2>
                <CaseTable items={mine} />
              </div>
            ) : null}
            <div class="card">
              <h2>{team ? `Team ${team}` : "All teams"}</h2>
              {rest.length === 0 ? <p class="muted">Nothing here.</p> : <CaseTable items={rest} />}
            </div>
          </div>
        </div>,
        whoOf(p),
        p.role,
      ),
    );
  });

  return app;
}
