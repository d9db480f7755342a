/**
 * Per-customer ingest rates in Redis (events per clock minute), so that one customer flooding
 * ingest (a compromised card at a test merchant, a broken client) can be told from everyone else
 * and queued behind them.
 */
import type { Redis } from "ioredis";

/**
 * Adds events per customer to their count for the current minute (or, with negative counts,
 * takes them off); returns the totals.
 */
export async function countThisMinute(
  redis: Redis,
  prefix: string,
  perCustomer: ReadonlyMap<string, number>,
  now: Date,
): Promise<Map<string, number>> {
  const minute = Math.floor(now.getTime() / 60_000);
  const ids = [...perCustomer.keys()];
  const pipeline = redis.pipeline();
  for (const id of ids) {
    const key = `${prefix}:rate:{${id}}:${minute}`;
    pipeline.incrby(key, perCustomer.get(id)!);
    pipeline.expire(key, 120);
  }
  const replies = (await pipeline.exec()) ?? [];
  const totals = new Map<string, number>();
  ids.forEach((id, i) => {
    const [err, n] = replies[i * 2] ?? [];
    if (err) throw err;
    totals.set(id, Number(n));
  });
  return totals;
}
