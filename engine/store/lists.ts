/**
 * Named lists: their items, their versions and the history of their changes, each change audited.
 * A change to a list is serialised per list by a transaction lock; one that changes nothing writes
 * nothing and answers the current version. A list is never part of a ruleset version.
 */
import type postgres from "postgres";
import { ConflictError, NotFoundError } from "../errors.ts";
import { type ListChange, listsOf, patchItems, replaceItems } from "../rules/lists.ts";
import { audit } from "./audit.ts";
import type { Q } from "./database.ts";
import { PUBLISH_LOCK, type Publisher, publishedRuleset } from "./rulesets.ts";

/** The first key of a list's transaction lock; the second is the name's hash. */
const LIST_LOCK = 7_270_015;
/** How many of a change's added and removed items its history row keeps (the counts are exact). */
const KEPT_PER_CHANGE = 1000;
/** Rows per insert: two parameters each, well under the 65,534 a statement takes. */
const INSERT_ROWS = 20_000;

export interface ListSummary {
  name: string;
  size: number;
  version: number;
  updatedBy: string;
  updatedAt: Date;
}

export interface ListHistoryEntry {
  version: number;
  kind: "put" | "patch" | "delete";
  added: string[];
  removed: string[];
  addedCount: number;
  removedCount: number;
  size: number;
  at: Date;
  by: string;
}

export interface StoredList extends ListSummary {
  items: string[];
  /** Newest first. */
  history: ListHistoryEntry[];
}

export interface ListWriteResult {
  name: string;
  version: number;
  size: number;
  /** Nothing changed: no version was made. */
  unchanged: boolean;
  /** The list did not exist before this change. */
  created: boolean;
  added: number;
  removed: number;
}

const summary = (r: postgres.Row): ListSummary => ({
  name: r.name as string,
  size: r.size as number,
  version: r.version as number,
  updatedBy: r.updated_by as string,
  updatedAt: r.updated_at as Date,
});

/** Every list, by name, without its items. */
export async function listSummaries(sql: Q): Promise<ListSummary[]> {
  const rows = await sql`select name, size, version, updated_by, updated_at from lists order by name`;
  return rows.map(summary);
}

/** The current version of each named list that exists: what a worker compares with the lists it holds. */
export async function listVersions(sql: Q, names: readonly string[]): Promise<Map<string, number>> {
  const rows = await sql`select name, version from lists where name = any(${names as string[]})`;
  return new Map(rows.map((r) => [r.name as string, r.version as number]));
}

/** The items of the named lists (those that exist), with the version they are of. */
export async function listContents(
  sql: Q,
  names: readonly string[],
): Promise<Map<string, { version: number; items: string[] }>> {
  if (names.length === 0) return new Map();
  // One statement, so the versions and the items are of the same moment.
  const rows = await sql`
    select l.name, l.version, coalesce(array_agg(i.item) filter (where i.item is not null), '{}') as items
    from lists l left join list_items i on i.list_name = l.name
    where l.name = any(${names as string[]})
    group by l.name, l.version`;
  return new Map(
    rows.map((r) => [r.name as string, { version: r.version as number, items: r.items as string[] }]),
  );
}

/** A list with its items (sorted) and its latest `historyLimit` changes. */
export async function getList(sql: Q, name: string, historyLimit = 50): Promise<StoredList> {
  const [row] = await sql`select name, size, version, updated_by, updated_at from lists where name = ${name}`;
  if (!row) throw new NotFoundError(`no list ${name}`);
  const [items, history] = await Promise.all([
    sql`select item from list_items where list_name = ${name} order by item`,
    listHistory(sql, name, historyLimit),
  ]);
  return { ...summary(row), items: items.map((r) => r.item as string), history };
}

export async function listHistory(sql: Q, name: string, limit = 50): Promise<ListHistoryEntry[]> {
  const rows = await sql`
    select version, kind, added, removed, added_count, removed_count, size, at, by from list_changes
    where list_name = ${name} order by version desc limit ${limit}`;
  return rows.map((r) => ({
    version: r.version as number,
    kind: r.kind as ListHistoryEntry["kind"],
    added: r.added as string[],
    removed: r.removed as string[],
    addedCount: r.added_count as number,
    removedCount: r.removed_count as number,
    size: r.size as number,
    at: r.at as Date,
    by: r.by as string,
  }));
}

async function itemsOf(tx: Q, name: string): Promise<string[]> {
  const rows = await tx`select item from list_items where list_name = ${name}`;
  return rows.map((r) => r.item as string);
}

/** Writes a change under the list's lock: its items, its new version, its history row, its audit. */
async function record(
  tx: Q,
  name: string,
  kind: "put" | "patch",
  change: ListChange,
  existed: boolean,
  who: Publisher,
): Promise<ListWriteResult> {
  const [last] =
    await tx`select coalesce(max(version), 0)::int as v from list_changes where list_name = ${name}`;
  const version = (last!.v as number) + 1;
  const size = change.items.length;
  if (existed)
    await tx`update lists set version = ${version}, size = ${size}, updated_at = now(), updated_by = ${who.by} where name = ${name}`;
  else
    await tx`insert into lists (name, version, size, updated_by) values (${name}, ${version}, ${size}, ${who.by})`;
  if (change.removed.length > 0)
    await tx`delete from list_items where list_name = ${name} and item = any(${change.removed})`;
  for (let i = 0; i < change.added.length; i += INSERT_ROWS) {
    const rows = change.added.slice(i, i + INSERT_ROWS).map((item) => ({ list_name: name, item }));
    await tx`insert into list_items ${tx(rows, "list_name", "item")}`;
  }
  await tx`
    insert into list_changes (list_name, version, kind, added, removed, added_count, removed_count, size, by, by_token)
    values (${name}, ${version}, ${kind}, ${change.added.slice(0, KEPT_PER_CHANGE)},
      ${change.removed.slice(0, KEPT_PER_CHANGE)}, ${change.added.length}, ${change.removed.length},
      ${size}, ${who.by}, ${who.tokenId})`;
  await audit(tx, who.tokenId, `list.${kind}`, `list:${name}`, {
    version,
    by: who.by,
    added: change.added.length,
    removed: change.removed.length,
    size,
  });
  return {
    name,
    version,
    size,
    unchanged: false,
    created: !existed,
    added: change.added.length,
    removed: change.removed.length,
  };
}

/** Runs `work` in a transaction holding the list's lock. */
function locked<T>(sql: Q, name: string, work: (tx: Q) => Promise<T>): Promise<T> {
  const run = async (tx: Q) => {
    await tx`select pg_advisory_xact_lock(${LIST_LOCK}, hashtext(${name}))`;
    return work(tx);
  };
  return "begin" in sql ? (sql.begin(run) as Promise<T>) : run(sql);
}

/** Makes the list hold exactly `items` (normalised), making it if it is new. */
export function putList(
  sql: Q,
  name: string,
  items: readonly string[],
  who: Publisher,
): Promise<ListWriteResult> {
  return locked(sql, name, async (tx) => {
    const [row] = await tx`select version from lists where name = ${name}`;
    const current = row ? await itemsOf(tx, name) : [];
    const change = replaceItems(current, items);
    if (row && change.added.length === 0 && change.removed.length === 0)
      return unchanged(name, row.version as number, current.length);
    return record(tx, name, "put", change, row !== undefined, who);
  });
}

/** Adds and removes items (normalised) of a list that exists: NotFoundError otherwise. */
export function patchList(
  sql: Q,
  name: string,
  change: { add: readonly string[]; remove: readonly string[] },
  who: Publisher,
): Promise<ListWriteResult> {
  return locked(sql, name, async (tx) => {
    const [row] = await tx`select version from lists where name = ${name}`;
    if (!row) throw new NotFoundError(`no list ${name}; PUT /v1/lists/${name} makes it`);
    const current = await itemsOf(tx, name);
    const next = patchItems(current, change.add, change.remove);
    if (next.added.length === 0 && next.removed.length === 0)
      return unchanged(name, row.version as number, current.length);
    return record(tx, name, "patch", next, true, who);
  });
}

const unchanged = (name: string, version: number, size: number): ListWriteResult => ({
  name,
  version,
  size,
  unchanged: true,
  created: false,
  added: 0,
  removed: 0,
});

/**
 * Deletes a list, unless a rule of the published ruleset names it (ConflictError naming them).
 * Holds the publish lock while it checks, so no publish lands between the check and the delete.
 */
export function deleteList(sql: Q, name: string, who: Publisher): Promise<{ name: string; version: number }> {
  return locked(sql, name, async (tx) => {
    await tx`select pg_advisory_xact_lock(${PUBLISH_LOCK})`;
    const [row] = await tx`select version, size from lists where name = ${name}`;
    if (!row) throw new NotFoundError(`no list ${name}`);
    const published = await publishedRuleset(tx);
    const users = (published?.files ?? [])
      .filter((f) => listsOf(f.rule).includes(name))
      .map((f) => f.rule.name);
    if (users.length > 0)
      throw new ConflictError(
        `list ${name} is used by ${users.length} rule(s) of version ${published?.version}: ${users.join(", ")}; change or remove them first`,
        { rules: users, version: published?.version },
      );
    const version = (row.version as number) + 1;
    await tx`delete from lists where name = ${name}`;
    await tx`
      insert into list_changes (list_name, version, kind, removed_count, size, by, by_token)
      values (${name}, ${version}, 'delete', ${row.size as number}, 0, ${who.by}, ${who.tokenId})`;
    await audit(tx, who.tokenId, "list.delete", `list:${name}`, { version, by: who.by, size: row.size });
    return { name, version };
  });
}

/** The names of the lists that exist: what a rule's list names are checked against. */
export async function listNames(sql: Q): Promise<string[]> {
  const rows = await sql`select name from lists order by name`;
  return rows.map((r) => r.name as string);
}
