/** The queue: open (or resolved) cases, the advocate's own first, and closed ones the customer wrote to since. */
import { Hono } from "hono";
import type { Child } from "hono/jsx";
import type { Sql } from "../../engine/store/database.ts";
import { listCases } from "../../engine/store/postgres.ts";
import { page, Severity, When } from "./layout.tsx";
import type { DeskEnv } from "./session.tsx";
import { teamOf, whoOf } from "./words.tsx";

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

export function queueRoutes(sql: Sql) {
  const app = new Hono<DeskEnv>();
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

  return app;
}
