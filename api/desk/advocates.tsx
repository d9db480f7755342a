/** The team's advocates: who is online and how full their hands are. */
import { Hono } from "hono";
import { listCases } from "../../engine/store/case-views.ts";
import type { Sql } from "../../engine/store/database.ts";
import { listAdvocates } from "../../engine/store/people.ts";
import { page } from "./layout.tsx";
import type { DeskEnv } from "./session.tsx";
import { teamOf, whoOf } from "./words.tsx";

export function advocateRoutes(sql: Sql) {
  const app = new Hono<DeskEnv>();
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
          {/* Live: a status or a case routed, resolved or moved redraws this part (live.js). */}
          <div id="advocates" data-live>
            <p class={unassigned > 0 ? "warn" : "muted"}>
              {unassigned} open case{unassigned === 1 ? "" : "s"} waiting for an advocate
            </p>
            <div class="card">
              {/* The queue's table: a list of cards on a phone, so nothing scrolls sideways. */}
              <table class="cases">
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
                      <td data-label="Team">{a.team}</td>
                      <td data-label="Status" class={a.status === "online" ? "ok" : "muted"}>
                        {a.status}
                      </td>
                      <td data-label="Open cases" class={a.open >= a.capacity ? "warn" : ""}>
                        {a.open} of {a.capacity}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
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
