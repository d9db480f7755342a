/**
 * The named lists on the desk: every list with its size, version, last change and the published
 * rules that use it; and each list's items and history. Read only: lists change through the API
 * and the CLI (`touchpoint lists …`). Risk, supervisors and admins read these; advocates do not.
 */
import { Hono } from "hono";
import { listsOf } from "../../engine/rules/lists.ts";
import type { Sql } from "../../engine/store/database.ts";
import { getList, listSummaries } from "../../engine/store/lists.ts";
import { publishedRuleset } from "../../engine/store/rulesets.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import { Layout, When } from "./layout.tsx";
import { riskTeamPages } from "./rules.tsx";

type Env = { Variables: { principal: Principal } };

/** How many items a list's page shows: the rest are the API's (GET /v1/lists/:name). */
const SHOWN_ITEMS = 1000;

const whoIs = (p: Principal) => `${p.label || p.advocateId || p.tokenId} (${p.role})`;

/** Which published rules name each list. */
async function usersOfLists(sql: Sql): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const f of (await publishedRuleset(sql))?.files ?? [])
    for (const name of listsOf(f.rule)) out.set(name, [...(out.get(name) ?? []), f.rule.name]);
  return out;
}

const RuleLinks = ({ rules }: { rules: string[] }) =>
  rules.length === 0 ? (
    <span class="muted">no published rule</span>
  ) : (
    <span>
      {rules.map((r, i) => (
        <>
          {i > 0 ? ", " : ""}
          <a href={`/desk/rules/${r}`}>{r}</a>
        </>
      ))}
    </span>
  );

/** "+3 −1" and the first few of each, for a change's line. */
function changeWords(h: { added: string[]; removed: string[]; addedCount: number; removedCount: number }) {
  const some = (items: string[], n: number) =>
    items.length === 0 ? "" : `${items.slice(0, 5).join(", ")}${n > 5 ? ` and ${n - 5} more` : ""}`;
  return [
    h.addedCount > 0 ? `added ${some(h.added, h.addedCount)}` : "",
    h.removedCount > 0 ? `removed ${some(h.removed, h.removedCount)}` : "",
  ]
    .filter(Boolean)
    .join("; ");
}

export function listPages(sql: Sql) {
  const app = new Hono<Env>();
  app.use("*", riskTeamPages("Lists"));

  app.get("/", async (c) => {
    const p = c.get("principal");
    const [lists, users] = await Promise.all([listSummaries(sql), usersOfLists(sql)]);
    return c.html(
      <Layout title="Lists" who={whoIs(p)} role={p.role}>
        <h1>Lists</h1>
        <p class="muted">
          Named lists rules look items up in (<code>inList</code> / <code>notInList</code>). A change to a
          list is its own version, never a new ruleset version; make one with <code>touchpoint lists</code> or{" "}
          <code>PUT</code> / <code>PATCH /v1/lists/:name</code>.
        </p>
        <div class="card">
          {lists.length === 0 ? (
            <p class="muted">No list yet.</p>
          ) : (
            <table>
              <thead>
                <tr>
                  <th>List</th>
                  <th>Items</th>
                  <th>Version</th>
                  <th>Last change</th>
                  <th>Used by</th>
                </tr>
              </thead>
              <tbody>
                {lists.map((l) => (
                  <tr>
                    <td>
                      <a href={`/desk/lists/${l.name}`}>{l.name}</a>
                    </td>
                    <td>{l.size}</td>
                    <td>v{l.version}</td>
                    <td>
                      <When at={l.updatedAt} /> by {l.updatedBy}
                    </td>
                    <td>
                      <RuleLinks rules={users.get(l.name) ?? []} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </Layout>,
    );
  });

  app.get("/:name", async (c) => {
    const p = c.get("principal");
    const name = c.req.param("name");
    const list = await getList(sql, name).catch(() => undefined);
    if (!list) {
      return c.html(
        <Layout title="Not found" who={whoIs(p)} role={p.role}>
          <p>
            No list {name}. <a href="/desk/lists">All lists</a>
          </p>
        </Layout>,
        404,
      );
    }
    const users = (await usersOfLists(sql)).get(name) ?? [];
    return c.html(
      <Layout title={name} who={whoIs(p)} role={p.role}>
        <p>
          <a href="/desk/lists">← Lists</a>
        </p>
        <h1>{name}</h1>
        <p class="muted">
          {list.size} item(s) · version {list.version} · changed <When at={list.updatedAt} /> by{" "}
          {list.updatedBy}
        </p>
        <p>
          Used by: <RuleLinks rules={users} />
        </p>
        <div class="grid">
          <div class="card">
            <h2>Items</h2>
            {list.items.length === 0 ? (
              <p class="muted">Empty.</p>
            ) : (
              <ul class="items">
                {list.items.slice(0, SHOWN_ITEMS).map((i) => (
                  <li>
                    <code>{i}</code>
                  </li>
                ))}
              </ul>
            )}
            {list.items.length > SHOWN_ITEMS ? (
              <p class="muted">
                The first {SHOWN_ITEMS} of {list.items.length}; all of them:{" "}
                <code>touchpoint lists show {name}</code>.
              </p>
            ) : null}
          </div>
          <div class="card">
            <h2>History</h2>
            <ol class="timeline">
              {list.history.map((h) => (
                <li>
                  <span class="when">
                    v{h.version} · <When at={h.at} />
                  </span>
                  <b>{h.kind === "put" ? "replaced" : h.kind === "patch" ? "changed" : "deleted"}</b> by{" "}
                  {h.by}
                  {changeWords(h) ? ` — ${changeWords(h)}` : ""} ({h.size} item(s) after)
                </li>
              ))}
            </ol>
          </div>
        </div>
      </Layout>,
    );
  });
  return app;
}
