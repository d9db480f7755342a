/**
 * Per-customer ingest rates in Redis (events per clock minute), so that one customer flooding
 * ingest (a compromised card at a test merchant, a broken client) can be told from everyone else
 * and queued behind them.
 *
 * A minute's counts are one hash per evaluation partition (field: the customer), added to by one
 * script call per partition a request touches: a request of 1,000 customers is 16 commands, not
 * the 2,000 (an INCRBY and an EXPIRE a customer) of a key per customer, which were a tenth of the
 * API's CPU and made Redis parse two commands an event. One key a call, so Redis Cluster serves it.
 */
import type { Redis } from "ioredis";
import { partitionOf } from "../partitioning.ts";

/** Seconds a minute's counts are kept after their last change: read only within their minute. */
const KEEP_SECONDS = 120;

/** Adds each (customer, count) pair of ARGV to the hash KEYS[1]; answers the totals in order. */
const ADD = `
local totals = {}
for i = 1, #ARGV, 2 do
  totals[#totals + 1] = redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ${KEEP_SECONDS})
return totals`;

/** The hash of one partition's counts in one minute (minutes since the epoch). */
export function rateKey(prefix: string, partition: number, minute: number): string {
  return `${prefix}:rate:{p${partition}}:${minute}`;
}

/** A customer's count this minute, as `countThisMinute` keeps it (0 when none). */
export async function countOf(
  redis: Redis,
  prefix: string,
  partitions: number,
  customerId: string,
  now: Date,
): Promise<number> {
  const key = rateKey(prefix, partitionOf(customerId, partitions), Math.floor(now.getTime() / 60_000));
  return Number((await redis.hget(key, customerId)) ?? 0);
}

/**
 * Adds events per customer to their count for the current minute (or, with negative counts,
 * takes them off); returns the totals.
 */
export async function countThisMinute(
  redis: Redis,
  prefix: string,
  partitions: number,
  perCustomer: ReadonlyMap<string, number>,
  now: Date,
): Promise<Map<string, number>> {
  const minute = Math.floor(now.getTime() / 60_000);
  const byPartition = new Map<number, string[]>();
  for (const id of perCustomer.keys()) {
    const p = partitionOf(id, partitions);
    const ids = byPartition.get(p);
    if (ids) ids.push(id);
    else byPartition.set(p, [id]);
  }
  const totals = new Map<string, number>();
  await Promise.all(
    [...byPartition].map(async ([partition, ids]) => {
      const args: Array<string | number> = [];
      for (const id of ids) args.push(id, perCustomer.get(id)!);
      const counted = (await redis.eval(ADD, 1, rateKey(prefix, partition, minute), ...args)) as number[];
      for (const [i, id] of ids.entries()) totals.set(id, Number(counted[i]));
    }),
  );
  return totals;
}
