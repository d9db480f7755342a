/**
 * The risk team's named lists (`/v1/lists`): replaced whole (`PUT`, JSON `{ items }` or a CSV's
 * first column), changed (`PATCH { add, remove }`), read with their history, deleted when no
 * published rule names them. Each change is a version of the list and an audit entry, never a
 * ruleset version: workers see it on the next batch they evaluate (engine/evaluate.ts).
 */
import { Hono } from "hono";
import { z } from "zod";
import { NotFoundError, ValidationError } from "../../engine/errors.ts";
import { csvFirstColumn, listsOf, normaliseItems, parseListName } from "../../engine/rules/lists.ts";
import type { Sql } from "../../engine/store/database.ts";
import { deleteList, getList, listSummaries, patchList, putList } from "../../engine/store/lists.ts";
import { publishedRuleset, publisherOf } from "../../engine/store/rulesets.ts";
import { type AuthEnv, requireRole } from "../auth.ts";
import { jsonBody } from "../errors.ts";

export const putListBody = z.strictObject({
  /** Every item of the list: trimmed, blank ones dropped, duplicates collapsed. */
  items: z.array(z.string()),
});

export const patchListBody = z
  .strictObject({
    /** Items to add (already there: nothing happens). */
    add: z.array(z.string()).default([]),
    /** Items to remove (not there: nothing happens). */
    remove: z.array(z.string()).default([]),
  })
  .refine((b) => b.add.length + b.remove.length > 0, "add or remove at least one item");

/**
 * A PUT's items: JSON `{ items }`; or `text/csv`, the first column of every record (a first record
 * that is a header says so: `text/csv; header=present`, RFC 4180's parameter); or `text/plain`,
 * one item a line.
 */
async function putItems(c: { req: { header(n: string): string | undefined; text(): Promise<string> } }) {
  const type = (c.req.header("content-type") ?? "").toLowerCase();
  const media = type.split(";")[0]!.trim();
  if (media === "text/csv") {
    const header = /;\s*header\s*=\s*"?present"?/.test(type);
    return normaliseItems(csvFirstColumn(await c.req.text(), header));
  }
  if (media === "text/plain") return normaliseItems((await c.req.text()).split(/\r?\n/));
  return normaliseItems((await jsonBody(c as never, putListBody)).items);
}

const iso = (d: Date) => d.toISOString();

export function listRoutes(sql: Sql) {
  const app = new Hono<AuthEnv>();
  app.get("/", requireRole("risk", "supervisor"), async (c) => {
    const items = (await listSummaries(sql)).map((l) => ({ ...l, updatedAt: iso(l.updatedAt) }));
    return c.json({ items }, 200);
  });
  app.get("/:name", requireRole("risk", "supervisor"), async (c) => {
    const name = parseListName(c.req.param("name"));
    const [list, published] = await Promise.all([getList(sql, name), publishedRuleset(sql)]);
    return c.json(
      {
        ...list,
        updatedAt: iso(list.updatedAt),
        history: list.history.map((h) => ({ ...h, at: iso(h.at) })),
        /** The rules of the published version that name the list. */
        usedBy: (published?.files ?? [])
          .filter((f) => listsOf(f.rule).includes(name))
          .map((f) => f.rule.name),
      },
      200,
    );
  });
  // No name is no list: the name is the address, so there is nothing there to change (404).
  app.on(["PUT", "PATCH", "DELETE"], "/", requireRole("risk"), () => {
    throw new NotFoundError(
      "no list named: a list's name is its address, e.g. PATCH /v1/lists/blocked-merchants",
    );
  });
  app.put("/:name", requireRole("risk"), async (c) => {
    const name = parseListName(c.req.param("name"));
    const items = await putItems(c);
    const r = await putList(sql, name, items, publisherOf(c.get("principal")));
    return c.json(r, r.created ? 201 : 200);
  });
  app.patch("/:name", requireRole("risk"), async (c) => {
    const name = parseListName(c.req.param("name"));
    const body = await jsonBody(c, patchListBody);
    const change = { add: normaliseItems(body.add, "add"), remove: normaliseItems(body.remove, "remove") };
    if (change.add.length + change.remove.length === 0)
      throw new ValidationError("nothing to change", [{ path: "(body)", message: "only blank items" }]);
    return c.json(await patchList(sql, name, change, publisherOf(c.get("principal"))), 200);
  });
  app.delete("/:name", requireRole("risk"), async (c) => {
    const name = parseListName(c.req.param("name"));
    return c.json({ ...(await deleteList(sql, name, publisherOf(c.get("principal")))), deleted: true }, 200);
  });
  return app;
}
