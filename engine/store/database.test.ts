/**
 * The connection settings of `openDatabase`, against a real Postgres: what they are for shows only
 * as a table grows under a connection that already ran its statements.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDatabase } from "../../test/support/harness.ts";
import { type Database, openDatabase } from "./database.ts";
import { customerProfiles } from "./people.ts";

let database: { url: string; drop(): Promise<void> };
let db: Database;

beforeAll(async () => {
  database = await createDatabase();
  // One connection, so every statement below runs on the backend that prepared it.
  db = await openDatabase({ url: database.url, dataDir: "", max: 1 });
});

afterAll(async () => {
  await db?.close();
  await database?.drop();
});

const id = (n: number) => `cus-${String(n).padStart(6, "0")}`;
const addCustomers = (from: number, to: number) => db.sql`
  insert into customers (id, name, phone, home_country)
  select 'cus-' || lpad(n::text, 6, '0'), 'N', '+44770090' || lpad(n::text, 4, '0'), 'GB'
  from generate_series(${from}::int, ${to - 1}::int) as n`;

describe("the database connection", () => {
  it("plans a statement for the table as it is now, not as it was when the statement was first run", async () => {
    // A new deployment: few customers while the statement is prepared and run over and over (a
    // generic plan is Postgres's choice after five runs, kept until its table is next analysed).
    await addCustomers(0, 300);
    for (let round = 0; round < 10; round++)
      await customerProfiles(
        db.sql,
        Array.from({ length: 50 }, (_, k) => id((k * 7 + round) % 300)),
      );
    // Then the bank loads its customers, and nothing analyses the table (autovacuum off or behind).
    await addCustomers(300, 40_000);
    const seqScans = async () => {
      await db.sql`select pg_stat_force_next_flush()`;
      const [row] =
        await db.sql`select seq_scan::int as n from pg_stat_user_tables where relname = 'customers'`;
      return row!.n as number;
    };
    const before = await seqScans();
    const wanted = Array.from({ length: 50 }, (_, k) => id(k * 797));
    for (let round = 0; round < 5; round++) {
      const profiles = await customerProfiles(db.sql, wanted);
      expect(profiles.size).toBe(50);
    }
    // Found through the primary key each time: a plan kept from the small table reads all 40,000.
    expect((await seqScans()) - before).toBe(0);
    const plans = await db.sql`
      select generic_plans::int as generic from pg_prepared_statements
      where statement like '%home_lat, home_lon from customers%' and statement not like '%pg_prepared_statements%'`;
    expect(plans.length).toBeGreaterThan(0);
    expect(plans.every((p) => p.generic === 0)).toBe(true);
  });
});
