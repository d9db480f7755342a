/**
 * What a stranger can send: every text field refuses NUL and unpaired surrogates with a 400
 * naming the field, bodies are bounded before anything reads them, and a reply stays near its
 * request's size. One bad event never fails its batch.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { countOf } from "../engine/features/rates.ts";
import { eventually, loadPeopleVia } from "../fixtures/stories.ts";
import { partitionKeys } from "../workers/partitions.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";

const event = (i: number, extra: Record<string, unknown> = {}) => ({
  id: `hostile-${i}`,
  type: "login",
  occurredAt: "2026-11-22T08:40:00Z",
  customerId: "cus-42",
  device: { id: "dev-9" },
  ...extra,
});

describe("hostile input", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint({ env: { VONAGE_SIGNATURE_SECRET: "hostile-test-signature-secret" } });
    await loadPeopleVia(t.api);
  });
  afterAll(async () => {
    await t?.close();
  });

  it("takes 999 good events and refuses the one with an unpaired surrogate, naming its field", async () => {
    const events = Array.from({ length: 1000 }, (_, i) => event(i));
    events[500] = event(500, { device: { id: "dev-\ud800" } });
    const r = await t.api("POST", "/v1/events", JSON.stringify(events));
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 999, rejected: 1 });
    expect(r.body.errors).toEqual([
      {
        index: 500,
        id: "hostile-500",
        errors: [{ path: "device.id", message: expect.stringMatching(/surrogate/) }],
      },
    ]);
    const [stored] = await t.tp.db.sql`select count(*)::int as n from events where id like 'hostile-%'`;
    expect(stored?.n).toBe(999);
  });

  it("stores an event's text as sent, whatever quotes, backslashes, braces or scripts it holds", async () => {
    const pay = (i: number, name: string, city: string) => ({
      id: `hostile-${i}`,
      type: "card.transaction",
      occurredAt: "2026-11-22T08:40:00Z",
      customerId: "cus-42",
      card: { id: "card-42", last4: "4242" },
      amount: { value: 12.5, currency: "EUR" },
      merchant: { name, country: "FR", city },
      channel: "ecommerce",
    });
    const sent = [
      pay(2000, 'Café "Le {Petit}", 5\\2 ☕ \\"x\\" — 東京 🙂 \t{}', "NULL"),
      pay(2001, "{1,2}", '""'),
      pay(2002, "\\", "Zürich, {\\}"),
    ];
    const r = await t.api("POST", "/v1/events", sent);
    expect(r.body, JSON.stringify(r.body)).toMatchObject({ accepted: 3 });
    const rows = await t.tp.db.sql`
      select id, customer_id, type, occurred_at, payload from events where id like 'hostile-200_' order by id`;
    expect(rows.map((x) => x.payload)).toEqual(sent);
    expect(rows[0]).toMatchObject({
      id: "hostile-2000",
      customer_id: "cus-42",
      type: "card.transaction",
      occurred_at: new Date("2026-11-22T08:40:00Z"),
    });
  });

  it("refuses a NUL or an unpaired surrogate anywhere in a JSON body with a 400 naming the field", async () => {
    const name = await t.api("PUT", "/v1/customers/cus-bad", {
      name: "Eve\ud800",
      phone: "+33612345678",
      homeCountry: "FR",
    });
    expect(name.status).toBe(400);
    expect(name.body.error.issues).toEqual([{ path: "name", message: expect.stringMatching(/surrogate/) }]);
    const token = await t.api("POST", "/v1/tokens", { role: "ingest", label: "a\u0000b" });
    expect(token.status).toBe(400);
    expect(token.body.error.issues[0].path).toBe("label");
    const publish = await t.api("POST", "/v1/rulesets", { rules: [], note: "x\u0000" });
    expect(publish.status).toBe(400);
    expect(publish.body.error.issues[0].path).toBe("note");
    const [made] = await t.tp.db.sql`select count(*)::int as n from customers where id = 'cus-bad'`;
    expect(made?.n).toBe(0);
  });

  it("refuses a NUL in a path or a query parameter with a 400 naming it, before any query runs", async () => {
    for (const [path, field] of [
      ["/v1/cases?customerId=a%00", "query.customerId"],
      ["/v1/cases?advocateId=a%00", "query.advocateId"],
      ["/v1/advocates?team=a%00", "query.team"],
      ["/v1/cases/a%00", "(path)"],
      ["/v1/cases/%ED%A0%80", "(path)"],
      ["/v1/cases/%E0%A4%A", "(path)"],
    ] as const) {
      const r = await t.api("GET", path);
      expect(r.status, path).toBe(400);
      expect(r.body.error.issues[0].path, path).toBe(field);
    }
  });

  it("refuses a request of more events than it takes with a 413, before validating any", async () => {
    const body = `[${Array.from({ length: 20_001 }, () => "0").join(",")}]`;
    const r = await t.api("POST", "/v1/events", body);
    expect(r.status).toBe(413);
    expect(JSON.stringify(r.body).length).toBeLessThan(500);
  });

  it("lists at most 100 rejected events, and counts them all", async () => {
    const r = await t.api("POST", "/v1/events", JSON.stringify(Array.from({ length: 300 }, () => 0)));
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 0, rejected: 300, errorsTruncated: true });
    expect(r.body.errors).toHaveLength(100);
  });

  it("refuses a webhook body over 64 KiB before reading it whole or checking its signature", async () => {
    const big = JSON.stringify({ text: "x".repeat(70 * 1024) });
    const r = await t.tp.app!.request("/webhooks/vonage/inbound", { method: "POST", body: big });
    expect(r.status).toBe(413);
    // Streamed without a length, too.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 100; i++) c.enqueue(new TextEncoder().encode("x".repeat(10 * 1024)));
        c.close();
      },
    });
    const chunked = await t.tp.app!.request("/webhooks/vonage/status", {
      method: "POST",
      body: stream,
      // @ts-expect-error: Node's fetch needs duplex for a stream body
      duplex: "half",
    });
    expect(chunked.status).toBe(413);
  });

  it("refuses a desk form over 64 KiB before parsing it, signed in or not", async () => {
    const r = await t.tp.app!.request("/desk/login", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: "http://localhost" },
      body: `token=${"x".repeat(2 * 1024 * 1024)}`,
    });
    expect(r.status).toBe(413);
  });

  it("refuses a rule nested 1,000 deep with a 400, not a stack overflow", async () => {
    let conditions: unknown = { fact: "event.type", operator: "equal", value: "login" };
    for (let i = 0; i < 1000; i++) conditions = { all: [conditions] };
    const rule = {
      name: "deep",
      conditions,
      event: { type: "fraud.suspected", params: { severity: "low" } },
    };
    const r = await t.api("POST", "/v1/rulesets/validate", { rules: [rule] });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.body)).toMatch(/nested deeper/);
  });

  it("evaluates a customer flooding ingest after everyone else, so the others are not held up", async () => {
    // A reconciler run that finds no epoch key re-drives every pending event at once: make sure
    // the key is there (set at start) before the queue is looked at.
    await eventually(async () =>
      (await t.tp.redis.exists(`${t.tp.keyPrefix}:epoch`)) === 1 ? true : undefined,
    );
    await t.drained();
    t.tp.pool!.evaluators.pause();
    // A read already waiting takes what comes in its first second: let it pass.
    await new Promise((ok) => setTimeout(ok, 1200));
    const flood = Array.from({ length: 700 }, (_, i) => ({
      ...event(i),
      id: `flood-${i}`,
      customerId: "flooder",
      occurredAt: new Date(Date.parse("2026-11-22T08:00:00Z") + i).toISOString(),
    }));
    expect((await t.api("POST", "/v1/events", flood)).body.accepted).toBe(700);
    const others = Array.from({ length: 50 }, (_, i) => ({
      ...event(i),
      id: `other-${i}`,
      customerId: `other-${i}`,
    }));
    expect((await t.api("POST", "/v1/events", others)).body.accepted).toBe(50);
    // Each partition's owner reads its heavy stream only after everyone else's: the flood waits there.
    const entries = async (which: "batches" | "heavy") => {
      const out: Array<{ batch: string; customers: string[] }> = [];
      for (let p = 0; p < t.tp.partitions; p++) {
        const items = await t.tp.redis.xrange(partitionKeys(t.tp.keyPrefix, p)[which], "-", "+");
        for (const [, fields] of items) {
          const f = new Map<string, string>();
          for (let i = 0; i + 1 < fields.length; i += 2) f.set(fields[i]!, fields[i + 1]!);
          out.push({ batch: f.get("b")!, customers: JSON.parse(f.get("c")!) });
        }
      }
      return out;
    };
    const waiting = await entries("batches");
    const behind = await entries("heavy");
    const customersOf = (list: typeof waiting) => new Set(list.flatMap((e) => e.customers));
    expect(customersOf(waiting).has("flooder")).toBe(false);
    expect(customersOf(waiting).size).toBe(50);
    expect(customersOf(behind)).toEqual(new Set(["flooder"]));
    // The entries carry no event: the flood's 700 are in Postgres, in the heavy entries' batches.
    const [{ n }] = (await t.tp.db.sql`
      select sum(cardinality(event_ids))::int as n from event_batches where id = any(${behind.map((e) => e.batch)})`) as unknown as [
      { n: number },
    ];
    expect(n).toBe(700);
    t.tp.pool!.evaluators.resume();
    await t.drained();
  });

  it("counts a customer's resent events once in their minute, so a client's retries do not make a flood", async () => {
    const sent = Array.from({ length: 400 }, (_, i) => ({
      ...event(i),
      id: `retried-${i}`,
      customerId: "retrier",
      occurredAt: new Date(Date.parse("2026-11-22T09:00:00Z") + i).toISOString(),
    }));
    const minute = () => Math.floor(Date.now() / 60_000);
    const m0 = minute();
    const first = await t.api("POST", "/v1/events", sent);
    expect(first.body.accepted).toBe(400);
    // The same request again (a timeout on the client's side), and once more: all duplicates.
    for (let i = 0; i < 2; i++) expect((await t.api("POST", "/v1/events", sent)).body.duplicates).toBe(400);
    const counted = await countOf(t.tp.redis, t.prefix, t.tp.partitions, "retrier", new Date(m0 * 60_000));
    // Across a minute boundary the posts count in two minutes; within one, exactly once.
    if (minute() === m0) expect(counted).toBe(400);
    else expect(counted).toBeLessThanOrEqual(400);
    // Still under INGEST_HEAVY_PER_MINUTE (600): a fresh event of theirs is queued with everyone's.
    const fresh = await t.api("POST", "/v1/events", [{ ...sent[0]!, id: "retried-new" }]);
    expect(fresh.body.accepted).toBe(1);
    await t.drained();
  });

  it("refuses tokens for unknown teams, and an advocate token for another team than its advocate's", async () => {
    for (const team of ["", "FRAUD", "nobody-here"]) {
      const r = await t.api("POST", "/v1/tokens", { role: "supervisor", team });
      expect(r.status, JSON.stringify(team)).toBe(400);
      expect(r.body.error.issues[0].path).toBe("team");
    }
    await t.api("PUT", "/v1/advocates/adv-dis", { name: "Dee Disputes", team: "disputes", status: "online" });
    const cross = await t.api("POST", "/v1/tokens", {
      role: "advocate",
      advocateId: "adv-amara",
      team: "disputes",
    });
    expect(cross.status).toBe(400);
    expect((await t.api("POST", "/v1/tokens", { role: "supervisor", team: "disputes" })).status).toBe(201);
  });

  it("shows an advocate only their own team's advocates", async () => {
    await t.api("PUT", "/v1/advocates/adv-dis", { name: "Dee Disputes", team: "disputes", status: "online" });
    const amara = t.as(await t.token("advocate", { advocateId: "adv-amara" }));
    const list = await amara("GET", "/v1/advocates");
    expect(list.status).toBe(200);
    expect(new Set(list.body.items.map((a: { team: string }) => a.team))).toEqual(new Set(["fraud"]));
    expect((await amara("GET", "/v1/advocates?team=disputes")).body.items).toEqual([]);
    expect((await amara("GET", "/v1/advocates/adv-dis")).status).toBe(404);
  });

  it("refuses blank names, cities and token labels that people write, naming the field, and stores nothing; takes an event with a blank city as one with none", async () => {
    const blanks = ["   ", "\t\n", "\u00a0\u3000", "\u200b", "\u3164\u2800\u034f"];
    for (const blank of blanks) {
      const label = JSON.stringify(blank);
      const customer = await t.api("PUT", "/v1/customers/cus-blank", {
        name: blank,
        phone: "+447911123042",
        homeCountry: "GB",
      });
      expect(customer.status, label).toBe(400);
      expect(customer.body.error.issues, label).toEqual([
        { path: "name", message: "must not be blank (white space only)" },
      ]);
      const home = await t.api("PUT", "/v1/customers/cus-blank", {
        name: "Blanche",
        phone: "+447911123042",
        homeCountry: "GB",
        home: { city: blank, lat: 51.5, lon: -0.12 },
      });
      expect(home.body.error.issues, label).toEqual([
        { path: "home.city", message: "must not be blank (white space only)" },
      ]);
      const advocate = await t.api("PUT", "/v1/advocates/adv-blank", {
        name: blank,
        team: "fraud",
        status: "online",
      });
      expect(advocate.status, label).toBe(400);
      expect(advocate.body.error.issues[0].path, label).toBe("name");
    }
    // A token's label names who acted, on every timeline entry the token makes.
    const token = await t.api("POST", "/v1/tokens", { role: "ingest", label: " \t " });
    expect(token.status).toBe(400);
    expect(token.body.error.issues).toEqual([
      { path: "label", message: "must not be blank (white space only)" },
    ]);
    expect((await t.api("GET", "/v1/customers/cus-blank")).status).toBe(404);
    expect((await t.api("GET", "/v1/advocates/adv-blank")).status).toBe(404);

    const pay = (id: string, merchant: Record<string, unknown>) => ({
      id,
      type: "card.transaction",
      occurredAt: "2026-11-22T08:40:00Z",
      customerId: "cus-42",
      card: { id: "card-42", last4: "4242" },
      amount: { value: 12.5, currency: "EUR" },
      merchant: { name: "Café", country: "FR", ...merchant },
      channel: "ecommerce",
    });
    // A feed pads fixed-width fields: a blank city is no city, and the event is kept and evaluated.
    // A blank merchant name is refused: the customer's text asks whether they paid at it.
    const r = await t.api("POST", "/v1/events", [
      pay("blank-city", { city: "          " }),
      pay("blank-name", { name: "\t" }),
      event(3000, { geo: { country: "FR", city: " ", lat: 48.85, lon: 2.35 } }),
    ]);
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 2, rejected: 1 });
    expect(r.body.errors.map((e: { errors: Array<{ path: string }> }) => e.errors[0]!.path)).toEqual([
      "merchant.name",
    ]);
    await t.drained();
    const stored = await t.tp.db.sql`
      select s.id, s.evaluated_at is not null as evaluated, s.error,
             coalesce(e.payload -> 'merchant', e.payload -> 'geo') as place
      from event_status s join events e on e.id = s.id
      where s.id in ('blank-city', 'blank-name', 'hostile-3000') order by s.id`;
    expect(stored).toEqual([
      { id: "blank-city", evaluated: true, error: null, place: { name: "Café", country: "FR" } },
      { id: "hostile-3000", evaluated: true, error: null, place: { country: "FR", lat: 48.85, lon: 2.35 } },
    ]);
  });

  it("refuses a rule whose title, owner or description is blank, and a blank reason to publish: people read them", async () => {
    const rule = (params: Record<string, unknown>, owner?: string) => ({
      name: "blank-words",
      ...(owner === undefined ? {} : { owner }),
      conditions: { all: [{ fact: "event.type", operator: "equal", value: "login" }] },
      event: { type: "fraud.suspected", params: { severity: "low", title: "A login", ...params } },
    });
    expect((await t.api("POST", "/v1/rulesets/validate", { rules: [rule({})] })).status).toBe(200);
    const title = await t.api("POST", "/v1/rulesets/validate", { rules: [rule({ title: "  " })] });
    expect(title.status).toBe(400);
    expect(JSON.stringify(title.body.error)).toMatch(/event\.params\.title.*must not be blank/);
    const owner = await t.api("POST", "/v1/rulesets/validate", { rules: [rule({}, "\u3000")] });
    expect(owner.status).toBe(400);
    expect(JSON.stringify(owner.body.error)).toMatch(/owner.*must not be blank/);
    const described = await t.api("POST", "/v1/rulesets/validate", {
      rules: [{ ...rule({}), description: "\n" }],
    });
    expect(JSON.stringify(described.body.error)).toMatch(/description.*must not be blank/);
    // Why a version was published is read in its history: a blank reason is none.
    const current = (await t.api("GET", "/v1/rulesets/current")).body.version;
    const put = await t.api("PUT", "/v1/rules/blank-words", { rule: rule({}), tests: [], note: "  " });
    expect(put.status).toBe(400);
    expect(put.body.error.issues).toEqual([
      { path: "note", message: "must not be blank (white space only)" },
    ]);
    const del = await t.api("DELETE", "/v1/rules/impossible-location-spend?note=%20%20");
    expect(del.status).toBe(400);
    expect(del.body.error.issues).toEqual([
      { path: "query.note", message: "must not be blank (white space only)" },
    ]);
    expect((await t.api("GET", "/v1/rulesets/current")).body.version).toBe(current);
  });

  it("gives, in its refusal of a phone number, an example it takes", async () => {
    const bad = await t.api("PUT", "/v1/customers/cus-example", {
      name: "Ex Ample",
      phone: "12345",
      homeCountry: "GB",
    });
    expect(bad.status).toBe(400);
    const [issue] = bad.body.error.issues;
    expect(issue.path).toBe("phone");
    const example = /e\.g\. (\+\d+)/.exec(issue.message)?.[1];
    expect(example, issue.message).toBeDefined();
    const good = await t.api("PUT", "/v1/customers/cus-example", {
      name: "Ex Ample",
      phone: example,
      homeCountry: "GB",
    });
    expect(good.status, JSON.stringify(good.body)).toBe(200);
  });

  it("refuses a home country that is not a country", async () => {
    const r = await t.api("PUT", "/v1/customers/cus-xx", {
      name: "X",
      phone: "+447700900123",
      homeCountry: "XX",
    });
    expect(r.status).toBe(400);
    expect(r.body.error.issues[0].path).toBe("homeCountry");
  });
});
