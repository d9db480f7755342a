/**
 * Evaluation by partition. A customer's events belong to one of a fixed number of partitions
 * (`partitionOf`); each partition is a Redis stream of stored batches, read through a consumer
 * group by the one process that holds the partition's lease, which keeps those customers' state
 * in memory (engine/features/memory.ts).
 *
 * Why streams and leases, not a BullMQ queue per partition: the owner of a partition reads every
 * batch waiting in it in one call and evaluates them together, so a request split over 16
 * partitions costs one stream entry per partition, not one job each (a BullMQ job costs about
 * 800 µs of CPU to move through its states: measured by `npm run bench`, "queue ceiling"; split
 * 16 ways, that alone was more than the state it saves). The consumer group's pending list keeps
 * what was read and not acknowledged, so a process that dies mid-batch loses nothing: the next
 * holder claims its entries.
 *
 * Ownership is a Redis lease per partition (SET NX PX, renewed a third of the way through) and,
 * in Postgres, an epoch raised by each taking: a process writes decisions and marks batches
 * evaluated only while the epoch it took is still the partition's (a fencing token, checked in the
 * same statement as the writes). What happens when a process
 * - dies: its leases expire (PARTITION_LEASE_MS); another process takes each partition, raises its
 *   epoch, claims the entries the dead one had read, and loads each customer from Postgres when
 *   it first meets them. Batches the dead one had not marked are evaluated again, whole;
 * - stalls past its lease (a long pause): the partition is taken as above; when the stalled one
 *   wakes, its next write is refused (FencedOut), it lets the partition and its state go, and its
 *   renewal finds the lease no longer its own. Nothing it decided after losing the lease is kept;
 * - loses its leases with a Redis that forgot them: the same, for every partition it held; it
 *   takes partitions again, keeping a partition's state only if nobody held it in between (the
 *   epoch it takes is the next after its own).
 * Processes share the partitions: each aims for its share (partitions ÷ live processes, rounded
 * up, counting processes that renewed their membership within a lease), takes free ones and
 * gives back extras, so adding a process moves some partitions to it within a few renewals.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { isServiceUnavailable } from "../engine/errors.ts";
import type { MemoryState } from "../engine/features/memory.ts";
import type { Logger } from "../engine/log.ts";
import { partitionOf } from "../engine/partitioning.ts";
import type { Sql } from "../engine/store/database.ts";
import { type Fence, FencedOut, takePartition } from "../engine/store/partitions.ts";

/** A stored batch waiting in its partition's stream. */
export interface BatchEntry {
  batch: string;
  partition: number;
  /** When the API accepted it, ms since epoch. */
  receivedAt: number;
  /** The batch's customers, distinct. */
  customers: string[];
  /** Customers over INGEST_HEAVY_PER_MINUTE: read after everyone else's in the partition. */
  heavy?: boolean;
  /**
   * The earliest and latest occurredAt of its events, ms: the reader names the weeks to read, so
   * Postgres plans only those (an entry without it reads every week's partition).
   */
  span?: readonly [number, number];
}

/** The span of these events' occurredAt, ms (see BatchEntry.span). */
export function spanOf(events: ReadonlyArray<{ occurredAt: string }>): [number, number] | undefined {
  let from = Number.POSITIVE_INFINITY;
  let to = Number.NEGATIVE_INFINITY;
  for (const e of events) {
    const t = Date.parse(e.occurredAt);
    if (t < from) from = t;
    if (t > to) to = t;
  }
  return Number.isFinite(from) && Number.isFinite(to) ? [from, to] : undefined;
}

/** A stream entry's span field for these events: `{ span }`, or nothing when it cannot be told. */
export function spanField(events: ReadonlyArray<{ occurredAt: string }>): Pick<BatchEntry, "span"> {
  const span = spanOf(events);
  return span ? { span } : {};
}

/** The consumer group every partition's streams are read through. */
const GROUP = "evaluators";

/**
 * A partition's keys. One hash tag per partition, so its two streams can be read in one call on
 * a Redis Cluster.
 */
export function partitionKeys(keyPrefix: string, partition: number) {
  const tag = `{${keyPrefix}:p${partition}}`;
  return { batches: `${tag}:batches`, heavy: `${tag}:heavy`, lease: `${tag}:lease` };
}

/** The sorted set of live evaluator processes, scored by their last renewal (ms). */
const membersKey = (keyPrefix: string) => `${keyPrefix}:evaluators`;

/** Queues stored batches on their partitions' streams, in one round trip. */
export async function queueBatches(
  redis: Redis,
  keyPrefix: string,
  entries: readonly BatchEntry[],
): Promise<void> {
  if (entries.length === 0) return;
  const pipeline = redis.pipeline();
  for (const e of entries) {
    const keys = partitionKeys(keyPrefix, e.partition);
    pipeline.xadd(
      e.heavy ? keys.heavy : keys.batches,
      "*",
      "b",
      e.batch,
      "r",
      String(e.receivedAt),
      "c",
      JSON.stringify(e.customers),
      ...(e.span ? ["s", `${e.span[0]},${e.span[1]}`] : []),
    );
  }
  const replies = (await pipeline.exec()) ?? [];
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
}

/** Stream entries not yet acknowledged, all partitions together: zero when nothing waits. */
export async function entriesWaiting(redis: Redis, keyPrefix: string, partitions: number): Promise<number> {
  return (await entriesWaitingByPartition(redis, keyPrefix, partitions)).reduce((a, b) => a + b, 0);
}

/** Stream entries not yet acknowledged, per partition. */
export async function entriesWaitingByPartition(
  redis: Redis,
  keyPrefix: string,
  partitions: number,
): Promise<number[]> {
  const pipeline = redis.pipeline();
  for (let p = 0; p < partitions; p++) {
    const keys = partitionKeys(keyPrefix, p);
    pipeline.xlen(keys.batches);
    pipeline.xlen(keys.heavy);
  }
  const replies = (await pipeline.exec()) ?? [];
  const out = new Array<number>(partitions).fill(0);
  replies.forEach(([err, len], i) => {
    if (err) throw err;
    out[Math.floor(i / 2)]! += Number(len);
  });
  return out;
}

/** Renews a lease if this process still holds it. */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** Entries one read takes at most, per stream: what one evaluation handles together. */
const READ_COUNT = 50;
/** How long a read waits for entries, ms: bounds how soon a stopping partition notices. */
const BLOCK_MS = 1000;
/** How long a partition waits before reading again while Postgres or Redis is out of reach, ms. */
const OUTAGE_PAUSE_MS = 1000;
/** A group of entries failing this many times in a row (not for an outage) is left to the reconciler's sweep. */
const MAX_ATTEMPTS = 8;

export interface EvaluatorsOptions {
  sql: Sql;
  /** Commands that do not block: leases, membership, acknowledgements. */
  redis: Redis;
  /** A new connection for one partition's blocking reads. */
  connect(): Redis;
  keyPrefix: string;
  partitions: number;
  leaseMs: number;
  memory: MemoryState;
  log: Logger;
  /** Evaluates the entries read from one partition (fenced): throws FencedOut when the partition was taken. */
  evaluate(entries: BatchEntry[], fence: Fence): Promise<void>;
  /** How long to wait after a failed evaluation before reading again, ms (doubles per attempt). */
  retryMs?: number;
  /** Told how many partitions this process holds whenever that changes. */
  onHeld?(count: number): void;
}

interface Holding {
  epoch: number;
  reader: Redis;
  stopping: boolean;
  /** Resolved when the holding stops: ends a retry's back-off at once. */
  stopped: Promise<void>;
  stop(): void;
  done: Promise<void>;
}

export interface Evaluators {
  /** The partitions this process holds now, with their epochs. */
  held(): ReadonlyMap<number, number>;
  /** Renews, balances and takes partitions now (it also runs on its own timer). */
  tick(): Promise<void>;
  /** True while this process takes part (its timer runs). */
  running(): boolean;
  /**
   * Stops evaluating (the partitions stay held) until `resume`, at once: entries a blocking read
   * returns after the call are left pending and read again on resume. For a drain, or a test.
   */
  pause(): void;
  resume(): void;
  /** Stops reading, lets every lease go (others take them at once) and forgets the state. */
  close(): Promise<void>;
}

export function startEvaluators(o: EvaluatorsOptions): Evaluators {
  const me = `${hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const held = new Map<number, Holding>();
  /** Holdings let go whose last evaluation may still be running: a re-take waits for it. */
  const stopping = new Map<number, Promise<void>>();
  /** The epoch this process last took each partition at: the state is kept across a re-take only right after it. */
  const lastEpoch = new Map<number, number>();
  let closed = false;
  let paused: { until: Promise<void>; end: () => void } | undefined;
  let ticking: Promise<void> | undefined;
  const retryMs = o.retryMs ?? 500;

  const dropState = (partition: number) =>
    o.memory.drop((customerId) => partitionOf(customerId, o.partitions) === partition);

  async function ensureGroups(keys: ReturnType<typeof partitionKeys>) {
    for (const stream of [keys.batches, keys.heavy]) {
      await o.redis.xgroup("CREATE", stream, GROUP, "0", "MKSTREAM").catch((err: Error) => {
        if (!/BUSYGROUP/.test(err.message)) throw err;
      });
    }
  }

  type Read = Array<[string, Array<[string, string[]]>]> | null;
  const parse = (partition: number, read: Read, heavyKey: string) => {
    const out: Array<{ id: string; stream: string; entry: BatchEntry }> = [];
    for (const [stream, items] of read ?? []) {
      for (const [id, fields] of items) {
        // An entry the consumer group still lists but whose body was deleted reads as null fields.
        if (!fields) continue;
        const f = new Map<string, string>();
        for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
        const span = f.get("s")?.split(",").map(Number);
        out.push({
          id,
          stream,
          entry: {
            batch: f.get("b") ?? "",
            partition,
            receivedAt: Number(f.get("r") ?? Date.now()),
            customers: JSON.parse(f.get("c") ?? "[]") as string[],
            ...(stream === heavyKey ? { heavy: true } : {}),
            ...(span?.length === 2 && span.every(Number.isFinite)
              ? { span: [span[0]!, span[1]!] as const }
              : {}),
          },
        });
      }
    }
    // Everyone's before the heavy customers'.
    return out.sort((a, b) => Number(a.stream === heavyKey) - Number(b.stream === heavyKey));
  };

  async function consume(partition: number, h: Holding) {
    const keys = partitionKeys(o.keyPrefix, partition);
    const fence: Fence = { partition, epoch: h.epoch };
    // First what this process and any earlier holder read and did not acknowledge (claimed from
    // them: the lease says they are gone), then what is new.
    let backlog = true;
    let claimedAt = 0;
    let attempt = 0;
    while (!h.stopping) {
      if (paused) {
        await Promise.race([paused.until, sleep(BLOCK_MS)]);
        continue;
      }
      try {
        if (backlog || Date.now() - claimedAt > o.leaseMs) {
          await ensureGroups(keys);
          for (const stream of [keys.batches, keys.heavy]) {
            let cursor = "0-0";
            do {
              const r = (await o.redis.xautoclaim(
                stream,
                GROUP,
                me,
                backlog ? 0 : o.leaseMs,
                cursor,
                "COUNT",
                500,
              )) as [string, unknown[]];
              cursor = r[0];
              if (r[1].length > 0) backlog = true;
            } while (cursor !== "0-0" && !h.stopping);
          }
          // Once a holding: whatever earlier holders had pending is this process's now.
          if (claimedAt === 0)
            await forgetIdleConsumers(keys).catch((err: unknown) =>
              o.log.debug({ partition, err: String(err) }, "could not forget idle consumers"),
            );
          claimedAt = Date.now();
        }
        // This process's own pending entries (`0`: re-read after a failure or a claim), else what is new.
        const read = await readGroup(h.reader, keys, backlog ? "0" : ">");
        // Paused while the read blocked: what it took stays pending to this process, read again
        // (from `0`) on resume, so a pause holds off every entry queued after it.
        if (paused) {
          backlog = true;
          continue;
        }
        const items = parse(partition, read, keys.heavy);
        if (items.length === 0) {
          backlog = false;
          continue;
        }
        if (h.stopping) return;
        // Everyone's batches first, evaluated and acknowledged before a flooding customer's are.
        for (const stream of [keys.batches, keys.heavy]) {
          const group = items.filter((i) => i.stream === stream);
          if (group.length === 0) continue;
          await o.evaluate(
            group.map((i) => i.entry).filter((e) => e.batch !== ""),
            fence,
          );
          const ids = group.map((i) => i.id);
          // Two commands, not a pipeline: the connection carries BullMQ's scripts, and every
          // ioredis pipeline copies them all onto itself (~20 KB a round, a tenth of what the
          // worker allocated at 2,000 events/s). Sent back to back, they still cost one round trip.
          await Promise.all([o.redis.xack(stream, GROUP, ...ids), o.redis.xdel(stream, ...ids)]);
        }
        attempt = 0;
      } catch (err) {
        if (h.stopping) return;
        if (err instanceof FencedOut) {
          o.log.warn(
            { partition, epoch: h.epoch },
            "partition taken over by another process: letting it and its state go",
          );
          lose(partition, h);
          return;
        }
        const message = err instanceof Error ? err.message : String(err);
        if (/NOGROUP/.test(message)) {
          // Redis forgot the stream and its group (restarted empty): the reconciler queues again
          // what was in it; the group is made anew on the next pass.
          backlog = true;
          continue;
        }
        // Postgres or Redis out of reach is waited out, however long: nothing else in this
        // partition could be evaluated meanwhile, and giving the batches up would only delay them.
        const unavailable = isServiceUnavailable(err);
        if (!unavailable) attempt++;
        o.log.warn({ partition, attempt, err: message }, "evaluation failed; reading the partition again");
        if (attempt >= MAX_ATTEMPTS) {
          // Left to the reconciler's sweep, which queues unevaluated batches again: the partition
          // must not stop for one group of batches that keeps failing.
          o.log.error(
            { partition },
            `a group of batches failed ${MAX_ATTEMPTS} times: acknowledged, left to the sweep`,
          );
          await skipBacklog(keys).catch(() => {});
          attempt = 0;
        }
        backlog = true;
        await Promise.race([
          h.stopped,
          sleep(unavailable ? OUTAGE_PAUSE_MS : Math.min(retryMs * 2 ** Math.min(attempt, 6), 30_000)),
        ]);
      }
    }
  }

  /**
   * Forgets the group's consumers that own nothing and have not read for a lease: each process
   * start adds one to every group it reads, and without this the groups grow with every deploy
   * and restart. One that owns entries is kept (they would be orphaned); one forgotten that reads
   * again is made anew by Redis.
   */
  async function forgetIdleConsumers(keys: ReturnType<typeof partitionKeys>) {
    for (const stream of [keys.batches, keys.heavy]) {
      const consumers = (await o.redis.xinfo("CONSUMERS", stream, GROUP)) as unknown[][];
      const idle: string[] = [];
      for (const c of consumers) {
        const f = new Map<string, unknown>();
        for (let i = 0; i + 1 < c.length; i += 2) f.set(String(c[i]), c[i + 1]);
        const name = String(f.get("name"));
        if (name !== me && Number(f.get("pending")) === 0 && Number(f.get("idle")) > o.leaseMs)
          idle.push(name);
      }
      if (idle.length === 0) continue;
      const forget = o.redis.pipeline();
      for (const name of idle) forget.xgroup("DELCONSUMER", stream, GROUP, name);
      await forget.exec();
    }
  }

  async function skipBacklog(keys: ReturnType<typeof partitionKeys>) {
    const read = await readGroup(o.redis, keys, "0");
    // Acknowledged and deleted: an entry left in the stream would count as waiting for ever, and
    // the reconciler re-drives a partition's unevaluated batches only when it has none waiting.
    for (const [stream, items] of read ?? []) {
      const ids = items.map(([id]) => id);
      if (ids.length > 0)
        await o.redis
          .pipeline()
          .xack(stream, GROUP, ...ids)
          .xdel(stream, ...ids)
          .exec();
    }
  }

  /** One read of a partition's two streams through the group: `>` waits up to BLOCK_MS for new entries. */
  async function readGroup(
    conn: Redis,
    keys: ReturnType<typeof partitionKeys>,
    from: "0" | ">",
  ): Promise<Read> {
    const wait = from === ">" ? ["BLOCK", BLOCK_MS] : [];
    return (await conn.xreadgroup(
      "GROUP",
      GROUP,
      me,
      "COUNT",
      READ_COUNT,
      ...(wait as ["BLOCK", number]),
      "STREAMS",
      keys.batches,
      keys.heavy,
      from,
      from,
    )) as Read;
  }

  function lose(partition: number, h: Holding) {
    if (h.stopping) return;
    h.stop();
    h.reader.disconnect();
    // A later holding of this process (taken again at the next epoch) keeps the state.
    if (held.get(partition) !== h) return;
    held.delete(partition);
    dropState(partition);
    stopping.set(partition, h.done);
    // A lease still this process's (its writes were refused, it was not its lease that went) is
    // given up, so the partition is taken again at the next renewal rather than when it expires.
    o.redis.eval(RELEASE, 1, partitionKeys(o.keyPrefix, partition).lease, me).catch(() => {});
  }

  async function take(partition: number): Promise<void> {
    const keys = partitionKeys(o.keyPrefix, partition);
    let epoch: number;
    try {
      epoch = await takePartition(o.sql, partition, me, new Date());
    } catch (err) {
      // Postgres out of reach: not taken after all, so nobody waits a lease for it.
      await o.redis.eval(RELEASE, 1, keys.lease, me).catch(() => {});
      throw err;
    }
    // An evaluation of this process's previous holding may still be finishing (its writes are
    // refused now): the new holding starts after it.
    await stopping.get(partition);
    stopping.delete(partition);
    // The state held for this partition is whole only if nobody took it since this process did.
    if (lastEpoch.get(partition) !== epoch - 1) dropState(partition);
    lastEpoch.set(partition, epoch);
    const reader = o.connect();
    reader.on("error", () => {});
    let stop = () => {};
    const stopped = new Promise<void>((ok) => {
      stop = ok;
    });
    const h: Holding = {
      epoch,
      reader,
      stopping: false,
      stopped,
      stop() {
        this.stopping = true;
        stop();
      },
      done: Promise.resolve(),
    };
    held.set(partition, h);
    h.done = consume(partition, h).catch((err) =>
      o.log.error({ partition, err: String(err) }, "partition reader stopped"),
    );
    o.log.info({ partition, epoch }, "took evaluation partition");
  }

  /**
   * Lets a partition go: its reader stops, its evaluation under way finishes (and is acknowledged),
   * then the lease goes. It stays held meanwhile, its lease renewed, so nobody takes it before.
   */
  async function giveBack(partition: number, h: Holding) {
    h.stop();
    await Promise.race([h.done, sleep(BLOCK_MS * 2)]);
    h.reader.disconnect();
    await h.done;
    if (held.get(partition) === h) held.delete(partition);
    dropState(partition);
    await o.redis.eval(RELEASE, 1, partitionKeys(o.keyPrefix, partition).lease, me).catch(() => {});
  }

  async function tickOnce(): Promise<void> {
    try {
      await balance();
    } finally {
      o.onHeld?.(held.size);
    }
  }

  async function balance(): Promise<void> {
    // Redis's clock, not this host's: membership is compared across hosts.
    const [sec, micro] = await o.redis.time();
    const now = Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
    const members = membersKey(o.keyPrefix);
    // A member is a process that can evaluate: one that cannot reach Postgres does not count, so
    // the others take its share instead of leaving it unread.
    const canEvaluate = await Promise.race([
      Promise.resolve(o.sql`select 1`).then(
        () => true,
        () => false,
      ),
      sleep(o.leaseMs / 3).then(() => false),
    ]);
    const membership = o.redis.pipeline();
    if (canEvaluate) membership.zadd(members, now, me);
    else membership.zrem(members, me);
    await membership.zremrangebyscore(members, 0, now - 3 * o.leaseMs).exec();
    // Renewals first: a partition whose lease is gone is let go before another is taken. A
    // partition being given back is renewed too, until its last evaluation is acknowledged.
    const renewals = o.redis.pipeline();
    const mine = [...held];
    for (const [p] of mine)
      renewals.eval(RENEW, 1, partitionKeys(o.keyPrefix, p).lease, me, String(o.leaseMs));
    const renewed = mine.length > 0 ? ((await renewals.exec()) ?? []) : [];
    mine.forEach(([p, h], i) => {
      const [err, ok] = renewed[i] ?? [null, 0];
      // An error says nothing of whose the lease is: tried again at the next tick, as when the
      // whole call fails. Should it be lost meanwhile, the fence refuses this process's next write.
      if (err)
        o.log.warn(
          { partition: p, err: err.message },
          "renewing an evaluation partition failed; trying again",
        );
      else if (ok !== 1) {
        o.log.warn({ partition: p }, "lease on evaluation partition lost: letting it and its state go");
        lose(p, h);
      }
    });
    if (!canEvaluate || closed) return;
    const live = Math.max(1, await o.redis.zcount(members, now - o.leaseMs, "+inf"));
    const share = Math.ceil(o.partitions / live);
    const keeping = [...held].filter(([, h]) => !h.stopping);
    if (keeping.length > share) {
      // Not awaited: a partition's last evaluation may take a while, and renewals must go on.
      for (const [p, h] of keeping.slice(share))
        giveBack(p, h).catch((err) =>
          o.log.warn({ partition: p, err: String(err) }, "giving an evaluation partition back failed"),
        );
      return;
    }
    if (keeping.length < share) {
      const free = shuffle([...Array(o.partitions).keys()].filter((p) => !held.has(p)));
      let holding = keeping.length;
      for (const p of free) {
        if (holding >= share || closed) break;
        const got = await o.redis.set(partitionKeys(o.keyPrefix, p).lease, me, "PX", o.leaseMs, "NX");
        if (got === "OK") {
          await take(p);
          holding++;
        }
      }
    }
  }

  async function tick(): Promise<void> {
    if (closed) return;
    ticking ??= tickOnce()
      .catch((err) => o.log.warn({ err: String(err) }, "evaluation partitions: renewal failed; trying again"))
      .finally(() => {
        ticking = undefined;
      });
    await ticking;
  }

  const timer = setInterval(() => void tick(), Math.max(50, Math.floor(o.leaseMs / 3)));
  void tick();

  return {
    held: () => new Map([...held].map(([p, h]) => [p, h.epoch])),
    tick,
    running: () => !closed,
    pause() {
      if (paused) return;
      let end = () => {};
      const until = new Promise<void>((ok) => {
        end = ok;
      });
      paused = { until, end };
    },
    resume() {
      paused?.end();
      paused = undefined;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      await ticking;
      await Promise.all([...held].map(([p, h]) => giveBack(p, h)));
      await o.redis.zrem(membersKey(o.keyPrefix), me).catch(() => {});
    },
  };
}

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));
