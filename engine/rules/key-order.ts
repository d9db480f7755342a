/**
 * Keys in the author's order. A rule file goes through zod (whose output follows the schema's key
 * order) and was stored in jsonb (which sorts keys): either way the file shown back to its author
 * read in someone else's order. Pure.
 */

/**
 * `value` with each object's keys in the order `like` (what the author wrote) has them, then any
 * key `like` lacks (a default filled in) in `value`'s own order; arrays element by element.
 */
export function inAuthorsOrder<T>(value: T, like: unknown): T {
  if (Array.isArray(value)) {
    const given = Array.isArray(like) ? like : [];
    return value.map((v, i) => inAuthorsOrder(v, given[i])) as T;
  }
  if (value === null || typeof value !== "object") return value;
  const own = value as Record<string, unknown>;
  const model = like !== null && typeof like === "object" && !Array.isArray(like) ? (like as object) : {};
  const out: Record<string, unknown> = {};
  // defineProperty, not assignment: a key named __proto__ stays a key.
  const put = (k: string, v: unknown) =>
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const k of Object.keys(model))
    if (Object.hasOwn(own, k)) put(k, inAuthorsOrder(own[k], (model as Record<string, unknown>)[k]));
  for (const k of Object.keys(own)) if (!Object.hasOwn(out, k)) put(k, inAuthorsOrder(own[k], undefined));
  return out as T;
}

/** A rule file as the author gave it, a bare rule standing for `{ rule }`. */
export const asFileShape = (raw: unknown): unknown =>
  raw !== null && typeof raw === "object" && !Array.isArray(raw) && !("rule" in raw) ? { rule: raw } : raw;
