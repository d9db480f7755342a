/**
 * Per-customer hot state in Redis (locations, velocity windows, devices, travel notices,
 * recent behaviour), read and updated atomically per event by one Lua script.
 *
 * Every write is keyed by the event id, so replaying an event (a retried job) changes nothing,
 * and every read is in event time, not arrival order: an event is compared with its neighbours
 * before and after it, so a late or concurrent arrival is still caught by whichever of the pair
 * is processed second.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { eventLocation, type TouchpointEvent } from "../events.ts";

const HOUR = 3_600_000;

/** Keep 30 days of history per customer; keys of silent customers expire after 90 days. */
const KEEP_MS = 30 * 24 * HOUR;

/** Behaviour event types, each kept in its own sorted set (keys 7 to 12 of the script). */
const BEHAVIOURS = [
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

const SCRIPT = `
local t = tonumber(ARGV[2])
local keep = tonumber(ARGV[10])
local ttl = tonumber(ARGV[11])
-- Trim relative to the server's clock as well: one event dated years ahead must not wipe the past.
local trimAt = math.min(t, tonumber(ARGV[13])) - keep
if ARGV[3] ~= '' then redis.call('ZADD', KEYS[1], t, ARGV[3]) end
if ARGV[4] ~= '' then redis.call('ZADD', KEYS[2], t, ARGV[4]) end
if ARGV[5] ~= '' then redis.call('ZADD', KEYS[3], t, ARGV[5]) end
local devFirst = ''
if ARGV[6] ~= '' then
  local cur = redis.call('HGET', KEYS[4], ARGV[6])
  if (not cur) or tonumber(cur) > t then
    redis.call('HSET', KEYS[4], ARGV[6], ARGV[2])
    redis.call('ZADD', KEYS[5], t, ARGV[6])
    cur = ARGV[2]
  end
  devFirst = cur
end
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[6], tonumber(ARGV[8]), ARGV[7]) end
if ARGV[9] ~= '' then redis.call('ZADD', KEYS[6 + tonumber(ARGV[12])], t, ARGV[9]) end

local prev, prevT, nxt, nxtT = '', '', '', ''
if ARGV[3] ~= '' then
  local before = redis.call('ZREVRANGEBYSCORE', KEYS[1], t, '-inf', 'WITHSCORES', 'LIMIT', 0, 4)
  for i = 1, #before, 2 do
    if before[i] ~= ARGV[3] then prev = before[i]; prevT = before[i + 1]; break end
  end
  local after = redis.call('ZRANGEBYSCORE', KEYS[1], t, '+inf', 'WITHSCORES', 'LIMIT', 0, 4)
  for i = 1, #after, 2 do
    if after[i] ~= ARGV[3] then nxt = after[i]; nxtT = after[i + 1]; break end
  end
end

-- The busiest window of length w that contains t: order-independent once all events are in.
-- Only the nearest \`side\` payments before and after t are read, so one event's work is bounded
-- whatever the customer's history: counts and sums are exact while a window holds at most
-- \`side\` payments on each side of t, and saturate (at least \`side\` + 1) beyond.
local side = tonumber(ARGV[14])
-- Read once, for the widest window (24 h): the nearest payments within an hour are the first of
-- those within a day, so the 1 h window is the same rows filtered (two Redis calls fewer).
local DAY = 86400000
local S, A = {}, {}
if ARGV[5] ~= '' then
  local before = redis.call('ZREVRANGEBYSCORE', KEYS[3], t, t - DAY, 'WITHSCORES', 'LIMIT', 0, side + 1)
  local after = redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. t, t + DAY, 'WITHSCORES', 'LIMIT', 0, side)
  local function add(member, score)
    local sep = string.find(member, '|', 1, true)
    S[#S + 1] = tonumber(score)
    A[#A + 1] = tonumber(string.sub(member, sep + 1)) or 0
  end
  for i = #before - 1, 1, -2 do add(before[i], before[i + 1]) end
  for i = 1, #after, 2 do add(after[i], after[i + 1]) end
end
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
if ARGV[5] ~= '' then
  n1, s1 = busiest(3600000)
  n24, s24 = busiest(DAY)
end

local latestDev = redis.call('ZREVRANGEBYSCORE', KEYS[5], t, '-inf', 'WITHSCORES', 'LIMIT', 0, 1)
local latestDevT, devsBefore = '', 0
if #latestDev > 0 then
  latestDevT = latestDev[2]
  devsBefore = redis.call('ZCOUNT', KEYS[5], '-inf', '(' .. latestDevT)
end
local notices = redis.call('ZRANGEBYSCORE', KEYS[6], t, '+inf', 'LIMIT', 0, 20)
-- One sorted set per behaviour type, so a burst of one kind (logins) cannot push another (a
-- password reset) out of view: the two latest of each type at or before t (one may be this event).
local recent = {}
for k = 7, 12 do
  local r = redis.call('ZREVRANGEBYSCORE', KEYS[k], t, t - 7 * 86400000, 'WITHSCORES', 'LIMIT', 0, 2)
  for i = 1, #r do recent[#recent + 1] = r[i] end
end

-- Only what this event wrote is trimmed and its expiry pushed back (32 Redis calls an event before,
-- 14 for a payment now): a kind not written since keeps nothing a read could still want once
-- \`ttl\` has passed. Devices (4, 5) and travel notices (6, scored by their end) are kept for
-- as long as the customer is active: "known" must not expire after a month, nor a long trip.
local maxKept = tonumber(ARGV[15])
local function trim(i)
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', trimAt)
  -- And at most maxKept entries of each kind: the oldest go first.
  redis.call('ZREMRANGEBYRANK', KEYS[i], 0, -maxKept - 1)
  redis.call('EXPIRE', KEYS[i], ttl)
end
if ARGV[3] ~= '' then trim(1) end
-- Of every located event (2), only the latest is ever read (the customer's clock): keep just it.
if ARGV[4] ~= '' then
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -2)
  redis.call('EXPIRE', KEYS[2], ttl)
end
if ARGV[5] ~= '' then trim(3) end
if ARGV[9] ~= '' then trim(6 + tonumber(ARGV[12])) end
trim(6)
redis.call('EXPIRE', KEYS[4], ttl)
redis.call('EXPIRE', KEYS[5], ttl)

return { prev, prevT, nxt, nxtT, tostring(n1), tostring(s1), tostring(n24), tostring(s24),
  devFirst, latestDevT, tostring(devsBefore), notices, recent }
`;

export interface LocationMark {
  /** A 12-character digest of the event's id. */
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
 * Key names of the compact member format (v2): a state written in the old one (JSON marks, ids)
 * is not read, and its customers are rebuilt from Postgres in the new one — replaying old events
 * into old-format sets would count each payment twice. The old keys expire with their TTL.
 */
const STATE_VERSION = "2";

function keysFor(prefix: string, customerId: string): string[] {
  // The hash tag keeps one customer's keys in one Redis Cluster slot, so the script may touch them all.
  const p = `${prefix}:c:{${customerId}}:`;
  const v = STATE_VERSION;
  return [
    `phys${v}`,
    `seen${v}`,
    `tx${v}`,
    "dev",
    "newdev",
    "notice",
    ...BEHAVIOURS.map((b) => `beh:${b}`),
  ].map((k) => p + k);
}

function builtKey(prefix: string, customerId: string): string {
  return `${prefix}:c:{${customerId}}:built${STATE_VERSION}`;
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

function argsFor(e: TouchpointEvent, now: number, amountOf: AmountOf): string[] {
  const t = Date.parse(e.occurredAt);
  const loc = eventLocation(e);
  const mark = loc ? encodeMark(e.id, loc) : "";
  const physical = e.type === "card.transaction" && e.channel !== "ecommerce" ? mark : "";
  // Payments by digest too: the member only has to be one per event, and short.
  const tx = e.type === "card.transaction" ? `${digestOf(e.id)}|${amountOf(e)}` : "";
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
    e.id,
    String(t),
    physical,
    mark,
    tx,
    device,
    notice,
    noticeTo,
    beh,
    String(KEEP_MS),
    String(TTL_SECONDS),
    String(behIndex),
    String(now),
    String(VELOCITY_SIDE),
    String(MAX_KEPT),
  ];
}

/** 72 bits of an event id's SHA-1, base64url: no '|', and one member per event. */
function digestOf(eventId: string): string {
  return createHash("sha1").update(eventId).digest("base64url").slice(0, 12);
}

/**
 * A location as a sorted-set member: `lat|lon|country|id|city`, where id is a 12-character
 * digest of the event id (one event, one member: replays change nothing) and the coordinates
 * are rounded to 4 decimals (11 m). Short enough (under Redis's 64-byte listpack limit) that a
 * customer's locations stay a compact listpack rather than a skiplist: about a third of the
 * bytes, measured with MEMORY USAGE (2,684 bytes for ten JSON marks; see bench/pipeline.ts).
 */
function encodeMark(
  eventId: string,
  loc: { lat: number; lon: number; country: string; city?: string },
): string {
  const round = (n: number) => Math.round(n * 1e4) / 1e4;
  return `${round(loc.lat)}|${round(loc.lon)}|${loc.country}|${digestOf(eventId)}|${loc.city ?? ""}`;
}

function parseMark(member: string, at: string): LocationMark | undefined {
  if (!member) return undefined;
  const [lat, lon, country, id] = member.split("|", 4) as [string, string, string, string];
  const city = member.slice(lat.length + lon.length + country.length + id.length + 4);
  return {
    id,
    lat: Number(lat),
    lon: Number(lon),
    country,
    ...(city ? { city } : {}),
    at: Number(at),
  };
}

type RawSnapshot = [
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
  string[],
  string[],
];

function decode(raw: RawSnapshot): CustomerSnapshot {
  const [prev, prevT, next, nextT, n1, s1, n24, s24, devFirst, latestDevT, devsBefore, notices, recent] = raw;
  const rec: CustomerSnapshot["recent"] = [];
  for (let i = 0; i + 1 < recent.length; i += 2) {
    const member = recent[i]!;
    const sep = member.indexOf("|");
    rec.push({ type: member.slice(0, sep), id: member.slice(sep + 1), at: Number(recent[i + 1]) });
  }
  const previousLocation = parseMark(prev, prevT);
  const nextLocation = parseMark(next, nextT);
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

/** The Redis adapter for per-customer state. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class CustomerState {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = "tp",
  ) {
    if (!(redis as unknown as { touchpointObserve?: unknown }).touchpointObserve) {
      redis.defineCommand("touchpointObserve", { numberOfKeys: 12, lua: SCRIPT });
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
   * Records each event in its customer's state and returns what the state said around it,
   * one atomic script per event, all pipelined in one round trip. Idempotent per event id.
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
   */
  async observeSettled(
    events: readonly TouchpointEvent[],
    amountOf: AmountOf = asIs,
  ): Promise<Array<CustomerSnapshot | Error>> {
    const pipeline = this.redis.pipeline();
    const observe = pipeline as unknown as Record<string, (...args: string[]) => unknown>;
    const now = Date.now(); // one clock reading for the batch
    for (const e of events)
      observe.touchpointObserve!(...keysFor(this.prefix, e.customerId), ...argsFor(e, now, amountOf));
    const replies = (await pipeline.exec()) ?? [];
    return replies.map(([err, raw]) => {
      // Redis refusing for a while (out of memory, a replica during failover, loading, busy) is
      // the batch's problem, retried later; only an error about this event's own data sets it aside.
      if (err && /^(OOM|READONLY|LOADING|BUSY|TRYAGAIN|CLUSTERDOWN|MASTERDOWN|MOVED|ASK)\b/.test(err.message))
        throw err;
      if (err) return err;
      try {
        return decode(raw as RawSnapshot);
      } catch (e) {
        return e instanceof Error ? e : new Error(String(e));
      }
    });
  }

  /**
   * Customers whose state this Redis may not hold in full: never built here, or forgotten with
   * the rest of Redis. Their state is rebuilt from their stored events before it is read.
   */
  async unbuilt(customerIds: readonly string[]): Promise<string[]> {
    if (customerIds.length === 0) return [];
    const marks = await this.redis.mget(...customerIds.map((id) => builtKey(this.prefix, id)));
    return customerIds.filter((_, i) => marks[i] === null);
  }

  /**
   * Replays a customer's stored history into their state (idempotent by event id, in any order)
   * and marks them built. `history` is what Postgres holds for them; see `customerHistory`.
   */
  async rebuild(
    customerIds: readonly string[],
    history: readonly TouchpointEvent[],
    amountOf: AmountOf = asIs,
  ): Promise<void> {
    // An event the script cannot take was set aside when it was evaluated: settled, not thrown.
    for (let i = 0; i < history.length; i += 500)
      await this.observeSettled(history.slice(i, i + 500), amountOf);
    if (customerIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of customerIds) pipeline.set(builtKey(this.prefix, id), "1", "EX", TTL_SECONDS);
    await pipeline.exec();
  }

  /** The customer's latest located event (any kind), for their current time zone. */
  async latestLocation(customerId: string): Promise<LocationMark | undefined> {
    const [member, at] = await this.redis.zrevrange(keysFor(this.prefix, customerId)[1]!, 0, 0, "WITHSCORES");
    return member && at ? parseMark(member, at) : undefined;
  }
}
