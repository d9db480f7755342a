/**
 * Ruleset versions: every publish is a new row holding the whole set of rule files, who published
 * it (the token's label) and why. A publish that changes nothing makes no version. Publishes are
 * serialised by a transaction lock, so a per-rule change never loses a concurrent one.
 */
import type postgres from "postgres";
import { NotFoundError } from "../errors.ts";
import { diffRuleFiles, isUnchanged, type RulesetDiff } from "../rules/diff.ts";
import { inAuthorsOrder } from "../rules/key-order.ts";
import { DEFAULT_TEAM, type RuleFile, type Ruleset, requireKnownLists, rulesetOf } from "../rules/schema.ts";
import { audit } from "./audit.ts";
import type { Q } from "./database.ts";
import type { Principal } from "./tokens.ts";

export interface StoredRuleset {
  version: number;
  files: RuleFile[];
  /** The rules of `files`, as the evaluator takes them. */
  ruleset: Ruleset;
  note: string;
  createdBy: string;
  publishedAt: Date | null;
}

/** Who a version says published it: the token's label, as people know it. */
export interface Publisher {
  by: string;
  tokenId: string;
}

export const publisherOf = (p: Pick<Principal, "tokenId" | "label">): Publisher => ({
  by: p.label || `token ${p.tokenId}`,
  tokenId: p.tokenId,
});

/**
 * Postgres' json type: a version is stored as the text it was sent as, its keys in the authors'
 * order (jsonb, sql.json's type, sorts them); the client still parses it on the way out.
 */
const JSON_OID = 114;

/** Serialises publishes: a per-rule change reads the current version and writes the next. */
export const PUBLISH_LOCK = 7_270_012;

/**
 * A stored rule file as the engine takes it: the defaults a field gained since it was stored
 * filled in, and nothing validated again. It was valid when it was published; validation has
 * grown stricter since (kinds, event types), and a rule published then must still run, roll back
 * and show, or one stricter release would stop every worker.
 */
function storedFile(raw: unknown): RuleFile {
  const f = raw as {
    rule: Record<string, unknown> & { event: { params: Record<string, unknown> } };
    tests?: unknown;
  };
  // Defaults after the author's keys: the file reads back in the order it was written.
  const rule = {
    ...f.rule,
    mode: f.rule.mode ?? "live",
    priority: f.rule.priority ?? 1,
    event: {
      ...f.rule.event,
      params: { ...f.rule.event.params, team: f.rule.event.params.team ?? DEFAULT_TEAM },
    },
  };
  return inAuthorsOrder({ rule, tests: Array.isArray(f.tests) ? f.tests : [] }, f) as unknown as RuleFile;
}

function stored(row: postgres.Row): StoredRuleset {
  const files = ((row.rules as { files?: unknown[] }).files ?? []).map(storedFile);
  return {
    version: row.version as number,
    files,
    ruleset: rulesetOf(files),
    note: row.note as string,
    createdBy: row.created_by as string,
    publishedAt: (row.published_at as Date | null) ?? null,
  };
}

export async function publishedRuleset(sql: Q): Promise<StoredRuleset | undefined> {
  const [row] = await sql`
    select version, rules, note, created_by, published_at from rulesets
    where published_at is not null order by version desc limit 1`;
  return row ? stored(row) : undefined;
}

export async function rulesetVersion(sql: Q, version: number): Promise<StoredRuleset> {
  const [row] =
    await sql`select version, rules, note, created_by, published_at from rulesets where version = ${version}`;
  if (!row) throw new NotFoundError(`ruleset version ${version} not found`);
  return stored(row);
}

/** Every version, newest first, with its rules by name and mode. */
export async function rulesetVersions(sql: Q, limit = 200) {
  const rows = await sql`
    select version, note, created_by, published_at, rules from rulesets order by version desc limit ${limit}`;
  return rows.map((r) => {
    const files = (r.rules as { files?: Array<{ rule: { name: string; mode?: string } }> }).files ?? [];
    return {
      version: r.version as number,
      note: r.note as string,
      createdBy: r.created_by as string,
      publishedAt: r.published_at ? (r.published_at as Date).toISOString() : null,
      rules: files.map((f) => f.rule.name),
      shadow: files.filter((f) => f.rule.mode === "shadow").map((f) => f.rule.name),
    };
  });
}

/**
 * The latest `limit` versions with their files, oldest first, and the version before them (the
 * base their changes are read against; none when they go back to the first).
 */
export async function rulesetHistory(
  sql: Q,
  limit = 200,
): Promise<{ base: StoredRuleset | undefined; versions: StoredRuleset[] }> {
  const rows = await sql`
    select version, rules, note, created_by, published_at from rulesets order by version desc limit ${limit + 1}`;
  const all = rows.map(stored).reverse();
  return all.length > limit ? { base: all[0], versions: all.slice(1) } : { base: undefined, versions: all };
}

export interface PublishResult {
  /** The new version, or the current one when nothing changed. */
  version: number;
  unchanged: boolean;
  /** The version it was compared with (none before the first publish). */
  from: number | null;
  diff: RulesetDiff;
}

/**
 * Publishes the rule files `next` makes of the current version, as one step: the current version
 * is read under the lock, so two per-rule changes at once both land. `next` may throw to refuse
 * (a dropped rule, an unknown name): nothing is written then. Files naming a list that does not
 * exist are refused (422) here, under the lock a list's delete takes too: every publish, rollback
 * included, lands only rules whose lists are there. A publish identical to the current version
 * writes nothing and answers the current version.
 */
export async function publishRuleFiles(
  sql: Q,
  next: (current: StoredRuleset | undefined) => RuleFile[],
  who: Publisher,
  /** Why; or, from what changed, when the publisher said nothing. */
  note: string | ((diff: RulesetDiff) => string),
): Promise<PublishResult> {
  const publish = async (tx: Q): Promise<PublishResult> => {
    await tx`select pg_advisory_xact_lock(${PUBLISH_LOCK})`;
    const current = await publishedRuleset(tx);
    const files = [...next(current)].sort((a, b) => a.rule.name.localeCompare(b.rule.name));
    // The lists as of now, under the lock a list's delete also takes: a check made before the lock
    // (the request's) may be stale by now, and a rollback's files were never checked against today.
    const lists = await tx`select name from lists`;
    requireKnownLists(
      files,
      lists.map((r) => r.name as string),
    );
    const diff = diffRuleFiles(current?.files ?? [], files);
    if (current && isUnchanged(diff))
      return { version: current.version, unchanged: true, from: current.version, diff };
    const why = typeof note === "string" ? note : note(diff);
    const [row] = await tx`
      insert into rulesets (rules, note, created_by, created_by_token, published_at)
      values (${tx.typed({ files } as unknown as postgres.SerializableParameter, JSON_OID)}, ${why}, ${who.by}, ${who.tokenId}, now())
      returning version`;
    const version = row!.version as number;
    await audit(tx, who.tokenId, "ruleset.publish", `ruleset:${version}`, {
      note: why,
      by: who.by,
      added: diff.added,
      changed: diff.changed.map((c) => c.rule),
      removed: diff.removed,
    });
    return { version, unchanged: false, from: current?.version ?? null, diff };
  };
  return "begin" in sql ? sql.begin(publish) : publish(sql);
}

const precision = (confirmed: number, falseAlarms: number) =>
  confirmed + falseAlarms > 0 ? Math.round((confirmed / (confirmed + falseAlarms)) * 1000) / 1000 : null;

/**
 * What each rule's hits turned out to be, since `since`. A live rule's hits are labelled by the
 * case they joined: a resolved case labels every rule that fired in it. A shadow rule's hits
 * reach no case, so they are labelled by what the live rules' cases found: the customer's case
 * opened within a day either side of the hit. Precision = confirmed / (confirmed + false alarms),
 * over labelled cases (live) or customers (shadow) only.
 */
export async function ruleStats(sql: Q, since = new Date(0)) {
  const live = await sql`
    select d.rule,
      count(*)::int as hits,
      count(distinct d.customer_id)::int as customers,
      count(distinct d.case_id)::int as cases,
      count(distinct c.id) filter (where c.outcome = 'confirmed_fraud')::int as confirmed,
      count(distinct c.id) filter (where c.outcome = 'false_alarm')::int as false_alarms,
      count(distinct c.id) filter (where c.status = 'open')::int as open
    from decisions d left join cases c on c.id = d.case_id
    where d.mode = 'live' and d.decided_at >= ${since}
    group by d.rule order by d.rule`;
  const shadow = await sql`
    select s.rule,
      count(*)::int as hits,
      count(distinct s.customer_id)::int as customers,
      count(*) filter (where exists (
        select 1 from decisions l where l.event_id = s.event_id and l.mode = 'live'))::int as overlap,
      count(distinct s.customer_id) filter (where label.outcome = 'confirmed_fraud')::int as confirmed,
      count(distinct s.customer_id) filter (where label.outcome = 'false_alarm')::int as false_alarms
    from decisions s
    left join lateral (
      select c.outcome from cases c
      where c.customer_id = s.customer_id and c.outcome is not null
        and c.opened_at between s.decided_at - interval '1 day' and s.decided_at + interval '1 day'
      order by (c.outcome = 'confirmed_fraud') desc limit 1) label on true
    where s.mode = 'shadow' and s.decided_at >= ${since}
    group by s.rule order by s.rule`;
  return [
    ...live.map((r) => ({
      rule: r.rule as string,
      mode: "live" as const,
      hits: r.hits as number,
      customers: r.customers as number,
      cases: r.cases as number,
      open: r.open as number,
      confirmed: r.confirmed as number,
      falseAlarms: r.false_alarms as number,
      precision: precision(r.confirmed as number, r.false_alarms as number),
    })),
    ...shadow.map((r) => ({
      rule: r.rule as string,
      mode: "shadow" as const,
      hits: r.hits as number,
      customers: r.customers as number,
      /** Of its hits, how many were on an event a live rule also hit. */
      overlapWithLive: r.overlap as number,
      confirmed: r.confirmed as number,
      falseAlarms: r.false_alarms as number,
      precision: precision(r.confirmed as number, r.false_alarms as number),
    })),
  ];
}
