/**
 * The customer-state stage alone: the bench's mix of events recorded, as the pipeline does, in a
 * partition owner's memory (`MemoryState`: Node CPU an event, heap bytes a customer), and for
 * comparison through the Redis script backtests still use (`CustomerState`, in batches of 100
 * against the bench's Redis: its Redis CPU an event from INFO cpu, bytes a customer from MEMORY
 * USAGE; its keys are deleted afterwards).
 */
import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Redis } from "ioredis";
import { MemoryState } from "../engine/features/memory.ts";
import { CustomerState } from "../engine/features/state.ts";
import { generateStream, shuffle } from "../fixtures/generator.ts";

export interface StateStage {
  events: number;
  customers: number;
  /** In memory, as evaluation does now. */
  memory: { nodeUsPerEvent: number; bytesPerCustomer: number; gcMicrosPerCustomer: number };
  redisUsPerEvent: number;
  nodeUsPerEvent: number;
  bytesPerCustomer: number;
}

export async function stateStage(o: {
  redisUrl: string;
  customers: number;
  seed?: number;
}): Promise<StateStage> {
  const redis = new Redis(o.redisUrl);
  const prefix = `bstate${randomBytes(3).toString("hex")}`;
  try {
    const state = new CustomerState(redis, prefix);
    const { customers, events } = generated({
      customers: o.customers,
      impossibleShare: 0.05,
      prefix: "st",
      payments: [7, 13],
      seed: o.seed ?? 7,
    });
    await state.rebuild(customers, []);
    const redisCpu = async () => {
      const info = await redis.info("cpu");
      const n = (k: string) => Number(new RegExp(`${k}:([0-9.]+)`).exec(info)?.[1] ?? 0);
      return (n("used_cpu_sys") + n("used_cpu_user")) * 1e6;
    };
    // In memory: every customer held (loaded with no history), then the events observed; the heap
    // measured after full collections, so the figure is what the state keeps, not its garbage.
    const gc = collector();
    gc();
    const heap0 = process.memoryUsage().heapUsed;
    const memory = new MemoryState({ maxCustomers: o.customers * 2 });
    memory.load(customers, []);
    const m0 = process.cpuUsage();
    for (const e of events) memory.observe(e);
    const m = process.cpuUsage(m0);
    gc();
    const heapBytes = process.memoryUsage().heapUsed - heap0;
    // What the state costs a major GC, which marks every object it holds on the thread that
    // evaluates: a full collection timed with it held, less one without it (the median of three).
    const fullGc = () => {
      const ms = [0, 1, 2].map(() => {
        const t0 = performance.now();
        gc();
        return performance.now() - t0;
      });
      return ms.sort((a, b) => a - b)[1]!;
    };
    const gcWith = fullGc();
    // Still in use here, or the collector above could have taken it all.
    if (memory.size !== o.customers) throw new Error(`held ${memory.size} customers, not ${o.customers}`);
    memory.drop(() => true);
    const gcMicrosPerCustomer = Math.max(0, ((gcWith - fullGc()) * 1000) / o.customers);
    const r0 = await redisCpu();
    const n0 = process.cpuUsage();
    // As the pipeline observes: the built marks read, and checked again by the script per event.
    const history = async () => [];
    for (let i = 0; i < events.length; i += 100)
      await state.observeBuilt(events.slice(i, i + 100), { history });
    const node = process.cpuUsage(n0);
    const redisUs = (await redisCpu()) - r0;
    let bytes = 0;
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 2000 }) as AsyncIterable<
      string[]
    >) {
      if (keys.length === 0) continue;
      const pipe = redis.pipeline();
      for (const k of keys) pipe.memory("USAGE", k);
      for (const [, b] of (await pipe.exec()) ?? []) bytes += Number(b ?? 0);
    }
    return {
      events: events.length,
      customers: o.customers,
      memory: {
        nodeUsPerEvent: Math.round(((m.user + m.system) / events.length) * 10) / 10,
        bytesPerCustomer: Math.round(heapBytes / o.customers),
        gcMicrosPerCustomer: Math.round(gcMicrosPerCustomer * 100) / 100,
      },
      redisUsPerEvent: Math.round((redisUs / events.length) * 10) / 10,
      nodeUsPerEvent: Math.round(((node.user + node.system) / events.length) * 10) / 10,
      bytesPerCustomer: Math.round(bytes / o.customers),
    };
  } finally {
    for await (const keys of redis.scanStream({ match: `${prefix}:*`, count: 5000 }) as AsyncIterable<
      string[]
    >)
      if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  }
}

/**
 * The stream's customers and its events shuffled, the events through JSON as the worker reads them
 * from Postgres: flat strings, as the state then holds them (a generated id is a rope of pieces).
 */
function generated(o: Parameters<typeof generateStream>[0] & { seed: number }) {
  const stream = generateStream(o);
  return {
    customers: stream.customers.map((c) => c.id),
    events: JSON.parse(JSON.stringify(shuffle(stream.events, o.seed + 1))) as typeof stream.events,
  };
}

/** A full garbage collection, made available to this process without a command-line flag. */
function collector(): () => void {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  return () => {
    gc();
    gc();
  };
}
