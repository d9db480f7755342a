/**
 * Named lists the risk team keeps (merchants, BINs, countries, devices, compromised cards): their
 * names and items as the API takes them, a change applied to a list, a CSV's first column, and the
 * lists a ruleset names. Pure: the store (engine/store/lists.ts) keeps them, the evaluators
 * (compile.ts, reference.ts) look items up with the operators `inList` / `notInList`.
 */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { badText } from "../input.ts";
import type { Condition, Rule } from "./schema.ts";

/** Items of every list by name, as both evaluators take them: a lookup, never a round trip. */
export type Lists = ReadonlyMap<string, ReadonlySet<string>>;

export const NO_LISTS: Lists = new Map();

/** At most this many items in one list (a PUT, or what a PATCH leaves). */
export const MAX_LIST_ITEMS = 100_000;
/** At most this many characters in one item, as stored (its listKey). */
export const MAX_ITEM_LENGTH = 200;
export const MAX_NAME_LENGTH = 64;

/** A list's name: its address and what a rule's `value` says. Lower-case words joined by `-`. */
export const listName = z
  .string()
  .min(1, "a name, not empty")
  .max(MAX_NAME_LENGTH, `at most ${MAX_NAME_LENGTH} characters`)
  .regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, "lower-case letters, digits and single dashes, e.g. blocked-merchants");

/** Validates a list's name; ValidationError (400) naming `path`. */
export function parseListName(raw: string, path = "name"): string {
  const r = listName.safeParse(raw);
  if (!r.success)
    throw new ValidationError("invalid list name", [{ path, message: r.error.issues[0]!.message }]);
  return r.data;
}

/**
 * What a list item and the fact looked up in it are compared as: trimmed (a card feed pads fields
 * with spaces) and in Unicode NFC (a CSV may spell "è" as e + a combining accent, the feed as one
 * character). Case stays significant: "SHOP X" and "Shop X" are two items. Both evaluators apply it
 * to the fact; items are stored already in this form.
 */
export const listKey = (s: string): string => s.trim().normalize("NFC");

/**
 * Items as stored: each its listKey, blank ones dropped, duplicates collapsed (first seen kept), in the
 * order given. Refuses (ValidationError naming `path[i]`) an item that is not a string or is too
 * long, and more than MAX_LIST_ITEMS distinct items.
 */
export function normaliseItems(raw: readonly unknown[], path = "items"): string[] {
  const seen = new Set<string>();
  const issues: Array<{ path: string; message: string }> = [];
  for (const [i, v] of raw.entries()) {
    if (typeof v !== "string") {
      issues.push({ path: `${path}[${i}]`, message: `a string; got ${v === null ? "null" : typeof v}` });
      continue;
    }
    const item = listKey(v);
    const bad = badText(item);
    if (bad) issues.push({ path: `${path}[${i}]`, message: bad });
    else if (item.length > MAX_ITEM_LENGTH)
      issues.push({
        path: `${path}[${i}]`,
        message: `at most ${MAX_ITEM_LENGTH} characters; got ${item.length}`,
      });
    else if (item !== "") seen.add(item);
    if (issues.length >= 20) break;
  }
  if (issues.length > 0) throw new ValidationError("invalid list items", issues);
  if (seen.size > MAX_LIST_ITEMS)
    throw new ValidationError("too many list items", [
      { path, message: `at most ${MAX_LIST_ITEMS} items; got ${seen.size}` },
    ]);
  return [...seen];
}

/** What a change did to a list: what it now holds, and what came and went. */
export interface ListChange {
  items: string[];
  added: string[];
  removed: string[];
}

/** A list replaced by `next` (normalised). */
export function replaceItems(current: readonly string[], next: readonly string[]): ListChange {
  const before = new Set(current);
  const after = new Set(next);
  return {
    items: [...next],
    added: next.filter((i) => !before.has(i)),
    removed: current.filter((i) => !after.has(i)),
  };
}

/**
 * A list with `add` added and `remove` taken out (both normalised). An item in both is refused: which
 * one was meant cannot be told. The result is bounded like a PUT.
 */
export function patchItems(
  current: readonly string[],
  add: readonly string[],
  remove: readonly string[],
): ListChange {
  const out = new Set(remove);
  const both = add.filter((i) => out.has(i));
  if (both.length > 0)
    throw new ValidationError("an item both added and removed", [
      { path: "remove", message: `also in add: ${both.slice(0, 10).join(", ")}` },
    ]);
  const before = new Set(current);
  const added = add.filter((i) => !before.has(i));
  const removed = remove.filter((i) => before.has(i));
  const items = [...current.filter((i) => !out.has(i)), ...added];
  if (items.length > MAX_LIST_ITEMS)
    throw new ValidationError("too many list items", [
      { path: "add", message: `the list would hold ${items.length} items; at most ${MAX_LIST_ITEMS}` },
    ]);
  return { items, added, removed };
}

/**
 * The first column of each CSV line (RFC 4180: a field may be quoted, with `""` for a quote, and
 * hold commas and line breaks; a quote that does not open a field is text). A leading byte-order
 * mark is dropped. With `header`, the first record is a header and skipped.
 */
export function csvFirstColumn(text: string, header = false): string[] {
  const out: string[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a spreadsheet's byte-order mark
  let first = true;
  while (i < text.length) {
    let field = "";
    if (text[i] === '"') {
      i++;
      while (i < text.length) {
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            i++;
            break;
          }
        } else field += text[i++];
      }
    }
    // The rest of the first field (unquoted, or after a closing quote), then skip the record's rest.
    while (i < text.length && text[i] !== "," && text[i] !== "\n" && text[i] !== "\r") field += text[i++];
    // A quote opens a quoted field only where a field starts; anywhere else it is text (`12" screen`),
    // as spreadsheets read it. Toggling on every quote would swallow every record after a stray one.
    while (text[i] === ",") {
      i++;
      if (text[i] === '"') {
        i++;
        while (i < text.length && !(text[i] === '"' && text[i + 1] !== '"')) i += text[i] === '"' ? 2 : 1;
        i++;
      }
      while (i < text.length && text[i] !== "," && text[i] !== "\n" && text[i] !== "\r") i++;
    }
    if (text[i] === "\r") i++;
    if (text[i] === "\n") i++;
    if (!(first && header)) out.push(field);
    first = false;
  }
  return out;
}

function conditionLists(c: Condition, out: Set<string>): void {
  if ("all" in c) for (const x of c.all) conditionLists(x, out);
  else if ("any" in c) for (const x of c.any) conditionLists(x, out);
  else if ("not" in c) conditionLists(c.not, out);
  else if ((c.operator === "inList" || c.operator === "notInList") && typeof c.value === "string")
    out.add(c.value);
}

/** The names of the lists a rule's conditions look items up in. */
export function listsOf(rule: Pick<Rule, "conditions">): string[] {
  const out = new Set<string>();
  conditionLists(rule.conditions, out);
  return [...out].sort();
}

/**
 * A list's items as both evaluators look them up: each its listKey. Items stored since listKey are
 * so already; this keeps an item stored before it (decomposed), and a test case's own lists
 * (written by hand, never stored), matching the fact as it is now looked up.
 */
export const listItems = (items: readonly string[]): ReadonlySet<string> => new Set(items.map(listKey));

/** Lists as the evaluators take them, from plain name → items. */
export function listsFrom(byName: Readonly<Record<string, readonly string[]>>): Lists {
  return new Map(Object.entries(byName).map(([name, items]) => [name, listItems(items)]));
}
