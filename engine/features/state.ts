/**
 * Per-customer hot state in Redis (locations, velocity windows, devices, travel notices,
 * recent behaviour), read and updated atomically per event by one Lua script.
 *
 * Every write is keyed by the event id, so replaying an event (a retried job) changes nothing,
 * and every read is in event time, not arrival order: an event is compared with its neighbours
 * before and after it, so a late or concurrent arrival is still caught by whichever of the pair
 * is processed second.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import { eventLocation, type TouchpointEvent } from "../events.ts";

const HOUR = 3_600_000;

/** Keep 30 days of history per customer; keys of silent customers expire after 90 days. */
export const KEEP_MS = 30 * 24 * HOUR;

/** Behaviour event types, each kept in its own sorted set (keys 5 to 10 of the script). */
export const BEHAVIOURS = [
  "login",
  "device.registered",
  "password.reset",
  "payee.added",
  "contact.changed",
  "travel.notice",
] as const;
const TTL_SECONDS = 90 * 24 * 3600;

/**
 * Velocity windows read at most this many payments on each side of the event: exact below it,
 * saturated above (a window with more reports at least this many + 1). Bounds one event's work.
 */
export const VELOCITY_SIDE = 100;
/** Entries kept per customer and kind (payments, locations, each behaviour), newest first. */
export const MAX_KEPT = 5000;

/**
 * The state script. Its arguments are only what differs between events (see `argsFor`); the
 * constants are written into its text, and its answer is one string of NUL-separated fields (see
 * `decode`): at a hundred events a batch, every argument and every reply element is work for the
 * client and for Redis (and garbage for Node's collector) many thousand times a second. NUL is
 * the one character no stored text holds: ingest refuses it (`badText`), Postgres cannot store
 * it, and JSON escapes it.
 */
const SCRIPT = `
-- The guard: an event is observed only into the state its caller found built (ARGV[11], the
-- customer's built mark as read). A Redis that forgot the customer since (restarted empty,
-- flushed) answers -1 and writes nothing, so no event is compared with a wrongly empty past.
-- A replay into a state being rebuilt passes '' (see BEGIN and BUILT for its own guard).
if ARGV[11] ~= '' and redis.call('HGET', KEYS[2], 'b') ~= ARGV[11] then return -1 end
local t = tonumber(ARGV[1])
local keep = ${KEEP_MS}
local ttl = ${TTL_SECONDS}
-- Trim relative to the server's clock as well: one event dated years ahead must not wipe the past.
local trimAt = math.min(t, tonumber(ARGV[10])) - keep
-- This event's payment (amount, and its place when the card was present), or ''.
local me = ARGV[2]
if me ~= '' then redis.call('ZADD', KEYS[1], t, me) end
-- Of every located event, only the latest is ever read (the customer's clock): the hash keeps it,
-- the greater of (time, mark) winning, so the order events arrive in does not matter.
if ARGV[4] ~= '' then
  local cur = redis.call('HMGET', KEYS[2], 'st', 's')
  local curT = tonumber(cur[1])
  if (not curT) or t > curT or (t == curT and ARGV[4] > cur[2]) then
    redis.call('HSET', KEYS[2], 'st', ARGV[1], 's', ARGV[4])
  end
  redis.call('EXPIRE', KEYS[2], ttl)
end
-- Devices by their first sighting in event time.
local devFirst = ''
if ARGV[5] ~= '' then
  local cur = redis.call('ZSCORE', KEYS[3], ARGV[5])
  if (not cur) or tonumber(cur) > t then
    redis.call('ZADD', KEYS[3], t, ARGV[5])
    cur = ARGV[1]
  end
  devFirst = cur
end
if ARGV[6] ~= '' then redis.call('ZADD', KEYS[4], tonumber(ARGV[7]), ARGV[6]) end
if ARGV[8] ~= '' then redis.call('ZADD', KEYS[4 + tonumber(ARGV[9])], t, ARGV[8]) end

local side = ${VELOCITY_SIDE}
-- Read once, for the widest window (24 h): the nearest payments within an hour are the first of
-- those within a day, so the 1 h window is the same rows filtered (two Redis calls fewer).
local DAY = 86400000
local S, A = {}, {}
if me ~= '' then
  local before = redis.call('ZREVRANGEBYSCORE', KEYS[1], t, t - DAY, 'WITHSCORES', 'LIMIT', 0, side + 1)
  local after = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. t, t + DAY, 'WITHSCORES', 'LIMIT', 0, side)
  local function add(member, score)
    local a = string.find(member, '|', 1, true)
    local b = string.find(member, '|', a + 1, true)
    S[#S + 1] = tonumber(score)
    A[#A + 1] = tonumber(string.sub(member, a + 1, b and (b - 1) or -1)) or 0
  end
  -- One member per event: a copy written at this time with another amount (rates or the
  -- customer's home changed before a retry) goes, or the event would count twice and be its own
  -- neighbour. It is among the first rows read here (same score), so no read of its own.
  local mine = string.sub(me, 1, string.find(me, '|', 1, true))
  for i = #before - 1, 1, -2 do
    local m = before[i]
    if m ~= me and tonumber(before[i + 1]) == t and string.sub(m, 1, #mine) == mine then
      redis.call('ZREM', KEYS[1], m)
    else
      add(m, before[i + 1])
    end
  end
  for i = 1, #after, 2 do add(after[i], after[i + 1]) end
end

-- The nearest card-present payment on each side in event time (not this one): members with a
-- place have a second '|'. Read a page at a time, so online payments in between are skipped.
local function placed(m)
  local a = string.find(m, '|', 1, true)
  return a and string.find(m, '|', a + 1, true)
end
local function nearest(cmd, from, to)
  -- Pages double in size, so a long run of online payments costs reads in proportion to it.
  local offset, count = 0, 8
  while true do
    local r = redis.call(cmd, KEYS[1], from, to, 'WITHSCORES', 'LIMIT', offset, count)
    for i = 1, #r, 2 do
      if r[i] ~= me and placed(r[i]) then return r[i], r[i + 1] end
    end
    if #r < 2 * count then return '', '' end
    offset = offset + count
    count = count * 2
  end
end
local prev, prevT, nxt, nxtT = '', '', '', ''
if ARGV[3] ~= '' then
  prev, prevT = nearest('ZREVRANGEBYSCORE', t, '-inf')
  nxt, nxtT = nearest('ZRANGEBYSCORE', t, '+inf')
end

-- The busiest window of length w that contains t: order-independent once all events are in.
-- Only the nearest \`side\` payments before and after t are read, so one event's work is bounded
-- whatever the customer's history: counts and sums are exact while a window holds at most
-- \`side\` payments on each side of t, and saturate (at least \`side\` + 1) beyond.
local function busiest(w)
  local s, a = {}, {}
  for i = 1, #S do
    if S[i] >= t - w and S[i] <= t + w then s[#s + 1] = S[i]; a[#a + 1] = A[i] end
  end
  local bestN, bestSum, j, sum = 0, 0, 1, 0
  for i = 1, #s do
    if s[i] > t then break end
    if j < i then j = i; sum = 0 end
    while j <= #s and s[j] <= s[i] + w do sum = sum + a[j]; j = j + 1 end
    if s[i] + w >= t then
      if j - i > bestN then bestN = j - i end
      if sum > bestSum then bestSum = sum end
    end
    sum = sum - a[i]
  end
  return bestN, bestSum
end
local n1, s1, n24, s24 = 0, 0, 0, 0
if me ~= '' then
  n1, s1 = busiest(3600000)
  n24, s24 = busiest(DAY)
end

-- Most customers only pay by card: asking whether a kind's key exists at all (after this event's
-- writes) spares the reads and upkeep of the kinds they have none of, nine calls in twelve.
local hasDev = redis.call('EXISTS', KEYS[3]) == 1
local latestDevT, devsBefore = '', 0
if hasDev then
  local latestDev = redis.call('ZREVRANGEBYSCORE', KEYS[3], t, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #latestDev > 0 then
    latestDevT = latestDev[2]
    devsBefore = redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. latestDevT)
  end
end
local hasNotices = redis.call('EXISTS', KEYS[4]) == 1
local notices = {}
if hasNotices then notices = redis.call('ZRANGEBYSCORE', KEYS[4], t, '+inf', 'LIMIT', 0, 20) end
-- One sorted set per behaviour type, so a burst of one kind (logins) cannot push another (a
-- password reset) out of view: the two latest of each type at or before t (one may be this event).
local recent = {}
if redis.call('EXISTS', KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]) > 0 then
  for k = 5, 10 do
    local r = redis.call('ZREVRANGEBYSCORE', KEYS[k], t, t - 7 * 86400000, 'WITHSCORES', 'LIMIT', 0, 2)
    for i = 1, #r do recent[#recent + 1] = r[i] end
  end
end

-- Only what this event wrote is trimmed and its expiry pushed back: a kind not written since
-- keeps nothing a read could still want once \`ttl\` has passed. Devices (3) and travel notices
-- (4, scored by their end) are kept for as long as the customer is active: "known" must not
-- expire after a month, nor a long trip.
local maxKept = ${MAX_KEPT}
local function trim(i)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', trimAt)
  -- And at most maxKept entries of each kind: the oldest go first.
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -maxKept - 1)
  redis.call('EXPIRE', KEYS[i], ttl)
end
if me ~= '' then trim(1) end
if ARGV[8] ~= '' then trim(4 + tonumber(ARGV[9])) end
if hasNotices then trim(4) end
if hasDev then redis.call('EXPIRE', KEYS[3], ttl) end

local out = { prev, prevT, nxt, nxtT, tostring(n1), tostring(s1), tostring(n24), tostring(s24),
  devFirst, latestDevT, tostring(devsBefore), tostring(#notices) }
for i = 1, #notices do out[#out + 1] = notices[i] end
for i = 1, #recent do out[#out + 1] = recent[i] end
return table.concat(out, '\\0')
`;

export interface LocationMark {
  /** A 10-character digest of the event's id. */
  id: string;
  lat: number;
  lon: number;
  country: string;
  city?: string;
  /** Event time, ms since epoch. */
  at: number;
}

export interface TravelNotice {
  id: string;
  countries: string[];
  /** ms since epoch */
  from: number;
  to: number;
}

/** What the store knew about the customer around one event, in event time. */
export interface CustomerSnapshot {
  previousLocation?: LocationMark;
  nextLocation?: LocationMark;
  /** Transactions in the busiest 1 h / 24 h window containing this event (this one included). */
  txCount1h: number;
  txSum1h: number;
  txCount24h: number;
  txSum24h: number;
  /** When this event's device was first seen, ms; undefined when the event has no device. */
  deviceFirstSeenAt?: number;
  /** The most recent first sighting of any device at or before this event, ms. */
  latestNewDeviceAt?: number;
  /** Devices first seen before that most recent one. */
  devicesBeforeLatest: number;
  /** Travel notices whose window ends at or after this event. */
  notices: TravelNotice[];
  /** Behaviour events in the 7 days up to this event (this one included), newest first. */
  recent: Array<{ type: string; id: string; at: number }>;
}

/**
 * Key names of the state's layout (v3: payments and their places in one sorted set; the latest
 * place and the built mark in one hash; devices in one sorted set). A state written in an older
 * layout is not read: its customers are rebuilt from Postgres in this one (replaying old events
 * into old sets would count each payment twice). A rebuild carries over what the replay cannot
 * (old devices, the latest place) and deletes the customer's old keys (see BUILT).
 *
 * Fewer keys, because each costs Redis about 80 bytes before it holds anything: v2 kept four
 * for a customer who only pays by card (1,296 bytes measured with MEMORY USAGE), v3 two.
 */
const STATE_VERSION = "3";

/** The script's keys, in its order: payments, latest place and built mark, devices, notices, behaviours. */
function keysFor(prefix: string, customerId: string): string[] {
  // The hash tag keeps one customer's keys in one Redis Cluster slot, so the script may touch them all.
  const p = `${prefix}:c:{${customerId}}:`;
  const v = STATE_VERSION;
  return [`pay${v}`, `h${v}`, `dev${v}`, `notice`, ...BEHAVIOURS.map((b) => `beh:${b}`)].map((k) => p + k);
}

/** Keys of the v2 layout that v3 does not share (notices and behaviours are unchanged), as BUILT takes them. */
const LEGACY_KEYS = ["newdev", "seen2", "phys2", "tx2", "dev", "built2"];

/**
 * Marks a rebuilt customer built, after carrying over from the v2 layout what a rebuild's replay
 * may not reach: devices first seen long ago (`newdev`, the same format as `dev3`; earliest kept)
 * and the latest place (`seen2`, whose mark put the id fourth). Then the v2 keys go. One script,
 * copies first: a write Redis refuses (out of memory) fails it before anything is deleted, and
 * the batch retries.
 */
const BUILT = `
-- Only the rebuild that began this state (BEGIN's token, ARGV[3]) may mark it built: a Redis that
-- forgot the customer during the replay has no token, and a state built on half a replay would
-- read as complete. The caller then rebuilds again.
if redis.call('HGET', KEYS[1], 'bt') ~= ARGV[3] then return 0 end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('ZUNIONSTORE', KEYS[2], 2, KEYS[2], KEYS[3], 'AGGREGATE', 'MIN')
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
local old = redis.call('ZREVRANGE', KEYS[4], 0, 0, 'WITHSCORES')
if #old == 2 then
  local lat, lon, country, id, city = string.match(old[1], '^([^|]*)|([^|]*)|([^|]*)|([^|]*)|(.*)$')
  if id then
    local mark = id .. '|' .. lat .. '|' .. lon .. '|' .. country .. '|' .. city
    local t = tonumber(old[2])
    local cur = redis.call('HMGET', KEYS[1], 'st', 's')
    local curT = tonumber(cur[1])
    if (not curT) or t > curT or (t == curT and mark > cur[2]) then
      redis.call('HSET', KEYS[1], 'st', old[2], 's', mark)
    end
  end
end
redis.call('HDEL', KEYS[1], 'bt')
redis.call('HSET', KEYS[1], 'b', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('UNLINK', KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8])
return 1
`;

/**
 * Begins a rebuild: the customer's hash takes a token (kept if a concurrent rebuild set one, so
 * both may finish), which BUILT requires. KEYS[1] the hash; ARGV[1] a fresh token, ARGV[2] the
 * TTL in seconds (a rebuild that dies leaves no key without one). Answers the token in force.
 */
const BEGIN = `
redis.call('HSETNX', KEYS[1], 'bt', ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return redis.call('HGET', KEYS[1], 'bt')
`;

function hashKey(prefix: string, customerId: string): string {
  return `${prefix}:c:{${customerId}}:h${STATE_VERSION}`;
}

/** How far back, before the earliest event at hand, a rebuilt state reaches: what the script keeps. ms. */
export const REBUILD_WINDOW_MS = KEEP_MS;
/**
 * At most this many of a customer's latest events (within the window) are replayed into a
 * rebuilt state: far more than velocity reads (VELOCITY_SIDE each side) or a normal month holds.
 */
export const REBUILD_MAX_EVENTS = 500;

/** What a payment counts for in the customer's sums: by default its own amount. */
export type AmountOf = (e: Extract<TouchpointEvent, { type: "card.transaction" }>) => number;
const asIs: AmountOf = (e) => e.amount.value;

function argsFor(e: TouchpointEvent, now: string, amountOf: AmountOf, expected: string): string[] {
  const t = Date.parse(e.occurredAt);
  const loc = eventLocation(e);
  const digest = digestOf(e.id);
  const placed = e.type === "card.transaction" && e.channel !== "ecommerce" && loc !== undefined;
  // A payment: `digest|amount`, and `|lat|lon|country|city` when the card was present. One
  // member per event (replays change nothing), short enough to keep the set a compact listpack.
  const pay =
    e.type === "card.transaction" ? `${digest}|${amountOf(e)}${placed ? `|${encodePlace(loc)}` : ""}` : "";
  const device = "device" in e && e.device ? e.device.id : "";
  const notice =
    e.type === "travel.notice"
      ? JSON.stringify({
          id: e.id,
          countries: e.travel.countries,
          from: Date.parse(e.travel.from),
          to: Date.parse(e.travel.to),
        })
      : "";
  const noticeTo = e.type === "travel.notice" ? String(Date.parse(e.travel.to)) : "0";
  // 1-based key of the event's behaviour set; 0 (not a behaviour we keep) writes nothing.
  const behIndex = BEHAVIOURS.indexOf(e.type as (typeof BEHAVIOURS)[number]) + 1;
  const beh = behIndex > 0 ? `${e.type}|${e.id}` : "";
  return [
    String(t),
    pay,
    placed ? "1" : "",
    loc ? `${digest}|${encodePlace(loc)}` : "",
    device,
    notice,
    noticeTo,
    beh,
    String(behIndex),
    now,
    expected,
  ];
}

/** 60 bits of an event id's SHA-1, base64url: no '|', and one member per event. */
export function digestOf(eventId: string): string {
  return createHash("sha1").update(eventId).digest("base64url").slice(0, 10);
}

/**
 * A place as part of a member: `lat|lon|country|city`, coordinates rounded to 4 decimals (11 m).
 * A payment's member stays under Redis's 64-byte listpack limit for cities of up to about 20
 * bytes, so a customer's payments stay a compact listpack rather than a skiplist (about a third
 * of the bytes); a longer name costs that customer memory, never correctness.
 */
function encodePlace(loc: { lat: number; lon: number; country: string; city?: string }): string {
  const round = (n: number) => Math.round(n * 1e4) / 1e4;
  return `${round(loc.lat)}|${round(loc.lon)}|${loc.country}|${loc.city ?? ""}`;
}

/** `id|lat|lon|country|city` (the latest place), or a payment's `id|amount|lat|lon|country|city`. */
function parseMark(member: string, at: string, skip = 0): LocationMark | undefined {
  if (!member) return undefined;
  const parts = member.split("|");
  const [lat, lon, country] = parts.slice(1 + skip, 4 + skip) as [string, string, string];
  const city = parts.slice(4 + skip).join("|");
  return {
    id: parts[0]!,
    lat: Number(lat),
    lon: Number(lon),
    country,
    ...(city ? { city } : {}),
    at: Number(at),
  };
}

/**
 * The script's answer: eleven fields, the number of notices, the notices, then the recent
 * behaviours as member and time pairs, all separated by NUL.
 */
function decode(raw: string): CustomerSnapshot {
  const f = raw.split("\0");
  if (f.length < 12) throw new Error(`state script answered ${f.length} fields, not at least 12`);
  const [prev, prevT, next, nextT, n1, s1, n24, s24, devFirst, latestDevT, devsBefore] = f as [
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const noticeCount = Number(f[11]);
  const notices = f.slice(12, 12 + noticeCount);
  const rec: CustomerSnapshot["recent"] = [];
  for (let i = 12 + noticeCount; i + 1 < f.length; i += 2) {
    const member = f[i]!;
    const sep = member.indexOf("|");
    rec.push({ type: member.slice(0, sep), id: member.slice(sep + 1), at: Number(f[i + 1]) });
  }
  const previousLocation = parseMark(prev, prevT, 1);
  const nextLocation = parseMark(next, nextT, 1);
  return {
    ...(previousLocation ? { previousLocation } : {}),
    ...(nextLocation ? { nextLocation } : {}),
    txCount1h: Number(n1),
    txSum1h: Number(s1),
    txCount24h: Number(n24),
    txSum24h: Number(s24),
    ...(devFirst ? { deviceFirstSeenAt: Number(devFirst) } : {}),
    ...(latestDevT ? { latestNewDeviceAt: Number(latestDevT) } : {}),
    devicesBeforeLatest: Number(devsBefore),
    notices: notices.map((n) => JSON.parse(n) as TravelNotice),
    recent: rec,
  };
}

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/**
 * The state script refused an event: the customer's built mark is no longer the one its caller
 * read (Redis forgot the customer in between). `observeBuilt` rebuilds them and observes again.
 */
export class UnbuiltError extends Error {
  constructor(readonly customerId: string) {
    super(`customer ${customerId}'s state was forgotten after it was read as built`);
    this.name = "UnbuiltError";
  }
}

/** The mark of a customer whose hash cannot be read (not a hash): never rebuilt; the script's error sets their events aside. */
const UNREADABLE = "!";

/** Redis refusing for a while (out of memory, failover, loading, busy): the batch's problem, retried later. */
function transient(err: Error): boolean {
  return /^(OOM|READONLY|LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|MOVED|ASK|MISCONF|NOREPLICAS)\b/.test(
    err.message,
  );
}

/** A batch rebuilds customers that Redis forgets under it at most this many times, then is retried whole. */
const MAX_BUILD_ATTEMPTS = 5;

export interface ObserveBuiltOptions {
  amountOf?: AmountOf;
  /** The customers' built marks, read beforehand with `marks` (a round trip saved). */
  marks?: ReadonlyMap<string, string | undefined>;
  /** What Postgres holds of these customers, to rebuild them from (see `customerHistory`). */
  history(customerIds: string[]): Promise<readonly TouchpointEvent[]>;
  /** Fault point for tests: after the customers are found (or made) built, before their events are observed. */
  beforeObserve?: () => void | Promise<void>;
  /** Fault point for tests: after a rebuild's replay, before the customer is marked built. */
  afterReplay?: () => void | Promise<void>;
}

/** The Redis adapter for per-customer state. */
export class CustomerState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "tp",
  ) {
    if (!(redis as unknown as { touchpointObserve3?: unknown }).touchpointObserve3) {
      redis.defineCommand("touchpointObserve3", { numberOfKeys: 10, lua: SCRIPT });
      redis.defineCommand("touchpointBegin3", { numberOfKeys: 1, lua: BEGIN });
      redis.defineCommand("touchpointBuilt3", { numberOfKeys: 8, lua: BUILT });
    }
  }

  /**
   * Claims `name` for `owner` for `ms` (or confirms the owner already holds it): true when the
   * owner holds it now. On this state's connection, which waits through a Redis restart as the
   * state script does, so a claim never fails where the evaluation itself would have waited.
   */
  async claim(name: string, owner: string, ms: number): Promise<boolean> {
    const key = `${this.prefix}:claim:${name}`;
    return (
      (await this.redis.set(key, owner, "PX", ms, "NX")) === "OK" || (await this.redis.get(key)) === owner
    );
  }

  /** Gives a claim up, if `owner` still holds it. */
  async release(name: string, owner: string): Promise<void> {
    await this.redis.eval(RELEASE, 1, `${this.prefix}:claim:${name}`, owner);
  }

  /**
   * Records each event in its customer's state and returns what the state said around it, one
   * atomic script per event, all pipelined in one round trip. Idempotent per event id. Reads
   * the state as it is, built or not: the pipeline observes through `observeBuilt`.
   */
  async observe(events: readonly TouchpointEvent[], amountOf: AmountOf = asIs): Promise<CustomerSnapshot[]> {
    return (await this.observeSettled(events, amountOf)).map((r, i) => {
      if (r instanceof Error)
        throw new Error(`customer state for event ${events[i]?.id}: ${r.message}`, { cause: r });
      return r;
    });
  }

  /**
   * As `observe`, but an event whose script fails comes back as its Error instead of failing the
   * whole batch: one poisoned event must not hold up (or endlessly retry) a hundred good ones.
   * With `expected` (each event's customer's built mark), an event whose customer's mark is not
   * that one any more is not observed: it comes back as an UnbuiltError.
   */
  async observeSettled(
    events: readonly TouchpointEvent[],
    amountOf: AmountOf = asIs,
    expected?: readonly string[],
  ): Promise<Array<CustomerSnapshot | Error>> {
    const pipeline = this.redis.pipeline();
    const observe = pipeline as unknown as Record<string, (...args: string[]) => unknown>;
    const now = String(Date.now()); // one clock reading for the batch
    for (const [i, e] of events.entries())
      observe.touchpointObserve3!(
        ...keysFor(this.prefix, e.customerId),
        ...argsFor(e, now, amountOf, expected?.[i] ?? ""),
      );
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, raw], i) => {
      // Redis refusing for a while is the batch's problem, retried later; only an error about
      // this event's own data sets it aside.
      if (err && transient(err)) throw err;
      if (err) return err;
      if (raw === -1) return new UnbuiltError(events[i]!.customerId);
      try {
        return decode(raw as string);
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      }
    });
  }

  /**
   * Each customer's built mark, or undefined where this Redis may not hold their state in full:
   * never built here, forgotten with the rest of Redis, or built longer ago than a key lives (a
   * rebuilt state is rebuilt again after TTL_SECONDS, as a key would expire). A mark is read
   * once and checked again by the state script for every event (see `observeBuilt`).
   */
  async marks(customerIds: readonly string[]): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>();
    if (customerIds.length === 0) return out;
    const pipeline = this.redis.pipeline();
    for (const id of customerIds) pipeline.hget(hashKey(this.prefix, id), "b");
    const replies = (await pipeline.exec()) ?? [];
    const now = Date.now();
    customerIds.forEach((id, i) => {
      const [err, mark] = replies[i] ?? [null, null];
      if (err && transient(err)) throw err;
      // A hash that cannot be read (WRONGTYPE) is not rebuilt: the script then sets the
      // customer's events aside with that error, one by one, instead of failing the batch.
      if (err) out.set(id, UNREADABLE);
      // `until:token` (a plain `until` before the token was added).
      else out.set(id, typeof mark === "string" && Number(mark.split(":")[0]) > now ? mark : undefined);
    });
    return out;
  }

  /**
   * Records the events, each compared with its customer's whole state: customers this Redis
   * does not hold in full (see `marks`) are rebuilt from `history` first, and a customer that
   * Redis forgets between that check and the script (a restart, a flush) is refused by the
   * script, rebuilt, and observed again, all of their events: what the forgotten state took in
   * was lost with it. A detection never depends on when Redis restarted.
   */
  async observeBuilt(
    events: readonly TouchpointEvent[],
    opts: ObserveBuiltOptions,
  ): Promise<Array<CustomerSnapshot | Error>> {
    const amountOf = opts.amountOf ?? asIs;
    const out: Array<CustomerSnapshot | Error> = new Array(events.length);
    let pending = [...new Set(events.map((e) => e.customerId))];
    let marks = new Map(opts.marks ?? (await this.marks(pending)));
    for (let attempt = 1; pending.length > 0; attempt++) {
      if (attempt > MAX_BUILD_ATTEMPTS)
        throw new Error(
          `customer state was forgotten ${MAX_BUILD_ATTEMPTS} times under one batch (${pending.length} customers); the batch is retried`,
        );
      const unbuilt = pending.filter((c) => marks.get(c) === undefined);
      if (unbuilt.length > 0) {
        // History is read after BEGIN: a Redis that forgets the customer after that read loses BEGIN's token too.
        const built = await this.rebuild(unbuilt, () => opts.history(unbuilt), amountOf, opts.afterReplay);
        for (const [c, mark] of built) marks.set(c, mark);
      }
      await opts.beforeObserve?.();
      // A customer whose rebuild was not marked built (forgotten during it) waits for the next round.
      const forgotten = new Set(pending.filter((c) => marks.get(c) === undefined));
      const observing = new Set(pending.filter((c) => !forgotten.has(c)));
      const at = events.flatMap((e, i) => (observing.has(e.customerId) ? [i] : []));
      const replies = await this.observeSettled(
        at.map((i) => events[i]!),
        amountOf,
        at.map((i) => marks.get(events[i]!.customerId)!),
      );
      for (const r of replies) if (r instanceof UnbuiltError) forgotten.add(r.customerId);
      replies.forEach((r, k) => {
        const i = at[k]!;
        if (!forgotten.has(events[i]!.customerId)) out[i] = r;
      });
      pending = [...forgotten];
      if (pending.length > 0) marks = await this.marks(pending);
    }
    return out;
  }

  /**
   * Replays a customer's stored history into their state (idempotent by event id, in any order)
   * and marks them built. `history` is what Postgres holds for them; see `customerHistory`.
   * Answers each customer's new mark, or undefined where Redis forgot them during the replay (or a
   * concurrent rebuild of theirs finished first): read the marks again.
   */
  async rebuild(
    customerIds: readonly string[],
    historyOrRead: readonly TouchpointEvent[] | (() => Promise<readonly TouchpointEvent[]>),
    amountOf: AmountOf = asIs,
    afterReplay?: () => void | Promise<void>,
  ): Promise<Map<string, string | undefined>> {
    const out = new Map<string, string | undefined>();
    const tokens = new Map<string, string>();
    if (customerIds.length > 0) {
      const pipeline = this.redis.pipeline();
      const begin = pipeline as unknown as Record<string, (...args: string[]) => unknown>;
      for (const id of customerIds)
        begin.touchpointBegin3!(
          hashKey(this.prefix, id),
          randomBytes(6).toString("base64url"),
          String(TTL_SECONDS),
        );
      const replies = (await pipeline.exec()) ?? [];
      customerIds.forEach((id, i) => {
        const [err, token] = replies[i] ?? [null, null];
        if (err && transient(err)) throw err;
        if (err) out.set(id, UNREADABLE);
        else tokens.set(id, String(token));
      });
    }
    const history = typeof historyOrRead === "function" ? await historyOrRead() : historyOrRead;
    // An event the script cannot take was set aside when it was evaluated: settled, not thrown.
    for (let i = 0; i < history.length; i += 500)
      await this.observeSettled(history.slice(i, i + 500), amountOf);
    await afterReplay?.();
    if (tokens.size === 0) return out;
    const pipeline = this.redis.pipeline();
    const built = pipeline as unknown as Record<string, (...args: string[]) => unknown>;
    const until = String(Date.now() + TTL_SECONDS * 1000);
    for (const [id, token] of tokens) {
      const p = `${this.prefix}:c:{${id}}:`;
      built.touchpointBuilt3!(
        hashKey(this.prefix, id),
        `${p}dev${STATE_VERSION}`,
        ...LEGACY_KEYS.map((k) => p + k),
        `${until}:${token}`,
        String(TTL_SECONDS),
        token,
      );
    }
    const replies = (await pipeline.exec()) ?? [];
    [...tokens].forEach(([id, token], i) => {
      const [err, done] = replies[i] ?? [null, null];
      if (err) throw err;
      out.set(id, done === 1 ? `${until}:${token}` : undefined);
    });
    return out;
  }

  /** The customer's latest located event (any kind), for their current time zone. */
  async latestLocation(customerId: string): Promise<LocationMark | undefined> {
    const [at, member] = await this.redis.hmget(hashKey(this.prefix, customerId), "st", "s");
    return member && at ? parseMark(member, at) : undefined;
  }
}
