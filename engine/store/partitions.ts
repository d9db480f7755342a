/**
 * Evaluation partitions: their count, fixed for a database at its first start, and each one's
 * epoch, the fencing token a process must still hold when it writes what it evaluated.
 */
import type { Q } from "./database.ts";

/**
 * The partitions of this database: `wanted` at the first start, and what the database says ever
 * after (every process must route a customer to the same partition, so the count never changes
 * under running processes; `changed` says when the configuration asked for another).
 */
export async function partitionCount(sql: Q, wanted: number): Promise<{ count: number; changed: boolean }> {
  await sql`
    insert into evaluation_partitions (partition)
    select p from generate_series(0, ${wanted - 1}::int) as p
    where not exists (select 1 from evaluation_partitions)
    on conflict do nothing`;
  const [row] = await sql`select count(*)::int as n from evaluation_partitions`;
  const count = row!.n as number;
  return { count, changed: count !== wanted };
}

/** Takes a partition for `owner` (whose lease in Redis is held): its new epoch. */
export async function takePartition(sql: Q, partition: number, owner: string, at: Date): Promise<number> {
  const [row] = await sql`
    update evaluation_partitions set epoch = epoch + 1, owner = ${owner}, taken_at = ${at}
    where partition = ${partition} returning epoch`;
  if (!row) throw new Error(`no evaluation partition ${partition}`);
  return Number(row.epoch);
}

/** Who holds which partition, as Postgres last heard (for /admin and the tests). */
export async function partitionOwners(
  sql: Q,
): Promise<Array<{ partition: number; epoch: number; owner: string | null; takenAt: Date | null }>> {
  const rows =
    await sql`select partition, epoch, owner, taken_at from evaluation_partitions order by partition`;
  return rows.map((r) => ({
    partition: r.partition as number,
    epoch: Number(r.epoch),
    owner: (r.owner as string | null) ?? null,
    takenAt: (r.taken_at as Date | null) ?? null,
  }));
}

/** A process's hold on a partition, as its writes carry it. */
export interface Fence {
  partition: number;
  epoch: number;
}

/** The fence was not held when a write came: another process took the partition since. */
export class FencedOut extends Error {
  constructor(readonly fence: Fence) {
    super(`partition ${fence.partition} was taken over (this process held epoch ${fence.epoch})`);
    this.name = "FencedOut";
  }
}
