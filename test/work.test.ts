/**
 * People moving work: an advocate's own status, claiming a waiting case, handing one over with a
 * note, a supervisor's reassignment — through the API, and on the desk in Chromium.
 */
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Json, loadPeopleVia, openCaseWith } from "../fixtures/stories.ts";
import { launchBrowser } from "./support/browser.ts";
import { startTestTouchpoint, type TestTouchpoint } from "./support/harness.ts";
import { firstCaseHandled, openTravelCase, PARIS, PHNOM_PENH, tx } from "./support/payments.ts";

const LONDON = { city: "London", country: "GB", lat: 51.5072, lon: -0.1276 };

describe("moving work through the API", () => {
  let t: TestTouchpoint;
  beforeAll(async () => {
    t = await startTestTouchpoint();
    await loadPeopleVia(t.api);
    await t.api("PUT", "/v1/advocates/adv-bo", {
      name: "Bo Berg",
      team: "fraud",
      capacity: 8,
      status: "online",
    });
    await t.api("PUT", "/v1/advocates/adv-cy", {
      name: "Cy Chen",
      team: "fraud",
      capacity: 8,
      status: "online",
    });
    await t.api("PUT", "/v1/advocates/adv-full", {
      name: "Fay Full",
      team: "fraud",
      capacity: 0,
      status: "online",
    });
    await t.api("PUT", "/v1/advocates/adv-gone", {
      name: "Gus Gone",
      team: "fraud",
      capacity: 8,
      status: "offline",
    });
    await t.api("PUT", "/v1/advocates/adv-dis", {
      name: "Dee Dis",
      team: "disputes",
      capacity: 8,
      status: "online",
    });
  });
  afterAll(() => t?.close());

  const as = async (advocateId: string) => t.as(await t.token("advocate", { advocateId }));
  const lastAssigned = (c: Json) => c.timeline.filter((s: Json) => s.kind === "case.assigned").at(-1);

  it("lets advocates set their own status, and only their own; routing follows it", async () => {
    const named = await firstCaseHandled(t.api, "st-1", "+33612345701");
    const them = await as(named.id);
    const away = await them("PUT", `/v1/advocates/${named.id}/status`, { status: "away" });
    expect(away.status).toBe(200);
    expect(away.body).toMatchObject({ id: named.id, status: "away" });
    const bo = await as("adv-bo");
    expect((await bo("PUT", `/v1/advocates/${named.id}/status`, { status: "offline" })).status).toBe(403);
    const bad = await them("PUT", `/v1/advocates/${named.id}/status`, { status: "asleep" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe("status");
    // Away, a high-severity case for their customer goes to someone online at once.
    await t.api("POST", "/v1/events", [
      tx("st-1-b1", "st-1", "2026-11-27T09:10:00Z", PARIS),
      tx("st-1-b2", "st-1", "2026-11-27T10:10:00Z", PHNOM_PENH),
    ]);
    const second = await openCaseWith(t.api, "st-1", ["impossible-location-spend"]);
    expect(second.advocateId).not.toBe(named.id);
    expect(second.advocateId).not.toBeNull();
    expect(lastAssigned(second).detail.reason).toContain(`${named.name} is away`);
    await them("PUT", `/v1/advocates/${named.id}/status`, { status: "online" });
  });

  it("lets an online advocate take a case that waits, and says who took it", async () => {
    const named = await firstCaseHandled(t.api, "cl-1", "+33612345702");
    await (await as(named.id))("PUT", `/v1/advocates/${named.id}/status`, { status: "away" });
    await t.api("POST", "/v1/events", [tx("cl-1-b1", "cl-1", "2026-11-27T12:00:00Z", LONDON)]);
    const waiting = await openCaseWith(t.api, "cl-1", ["foreign-spend-without-travel-notice"]);
    expect(waiting.advocateId).toBeNull();
    const full = await as("adv-full");
    const refused = await full("POST", `/v1/cases/${waiting.id}/claim`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toBe("Fay Full has 0 open cases, their capacity");
    // Whoever of Bo and Cy is not the one away takes it; the other comes too late.
    const [taker, other] = named.id === "adv-bo" ? ["adv-cy", "adv-bo"] : ["adv-bo", "adv-cy"];
    const names: Record<string, string> = { "adv-bo": "Bo Berg", "adv-cy": "Cy Chen" };
    const took = await (await as(taker))("POST", `/v1/cases/${waiting.id}/claim`);
    expect(took.status, JSON.stringify(took.body)).toBe(200);
    expect(took.body.advocateId).toBe(taker);
    expect(lastAssigned(took.body)).toMatchObject({
      actor: taker,
      detail: { trigger: "claim", reason: `${names[taker]} took the case` },
    });
    // Taken is taken: a second claim is refused with who has it.
    await (await as(named.id))("PUT", `/v1/advocates/${named.id}/status`, { status: "online" });
    const late = await (await as(other))("POST", `/v1/cases/${waiting.id}/claim`);
    expect(late.status).toBe(409);
    expect(late.body.error.message).toBe(`the case is with ${names[taker]}; ask them or a supervisor`);
    // Another team's advocate does not see the case at all.
    expect((await (await as("adv-dis"))("POST", `/v1/cases/${waiting.id}/claim`)).status).toBe(404);
  });

  it("hands a case to a colleague with a note the colleague reads first, under the routing rules", async () => {
    await t.api("PUT", "/v1/customers/ho-1", { name: "Hana Over", phone: "+33612345703", homeCountry: "FR" });
    await t.api("POST", "/v1/events", [
      tx("ho-1-a", "ho-1", "2026-11-27T09:10:00Z", PARIS),
      tx("ho-1-b", "ho-1", "2026-11-27T10:10:00Z", PHNOM_PENH),
    ]);
    const kase = await openCaseWith(t.api, "ho-1", ["impossible-location-spend"]);
    const holder = await as(kase.advocateId);
    const note = "She called at 10:40 from Phnom Penh; the Paris payment is not hers. Block and replace.";
    const noNote = await holder("POST", `/v1/cases/${kase.id}/handoff`, { to: "adv-cy" });
    expect(noNote.status).toBe(400);
    expect(noNote.body.error.issues).toEqual([
      { path: "note", message: expect.stringMatching(/what the colleague/) },
    ]);
    for (const [to, reason] of [
      ["adv-dis", "no advocate adv-dis in team fraud"],
      ["adv-gone", "Gus Gone is offline"],
      ["adv-full", "Fay Full has 0 open cases, their capacity"],
      ["adv-nobody", "no advocate adv-nobody"],
    ]) {
      const r = await holder("POST", `/v1/cases/${kase.id}/handoff`, { to, note });
      expect(r.status, to).toBe(409);
      expect(r.body.error.message, to).toBe(reason);
    }
    // Someone who does not hold the case cannot hand it over.
    const stranger = kase.advocateId === "adv-bo" ? "adv-cy" : "adv-bo";
    const notTheirs = await (await as(stranger))("POST", `/v1/cases/${kase.id}/handoff`, {
      to: stranger,
      note,
    });
    expect(notTheirs.status).toBe(409);
    const to = kase.advocateId === "adv-cy" ? "adv-bo" : "adv-cy";
    const handed = await holder("POST", `/v1/cases/${kase.id}/handoff`, { to, note });
    expect(handed.status, JSON.stringify(handed.body)).toBe(200);
    expect(handed.body.advocateId).toBe(to);
    expect(handed.body.handOff).toMatchObject({ note, by: kase.advocate.name, from: kase.advocate.name });
    const theirs = (await (await as(to))("GET", `/v1/cases/${kase.id}`)).body;
    expect(theirs.handOff.note).toBe(note);
    // The customer's named advocate is now the colleague.
    const [c] = await t.tp.db.sql`select last_advocate_id from customers where id = 'ho-1'`;
    expect(c!.last_advocate_id).toBe(to);

    // A supervisor moves it on; an advocate may not.
    expect((await holder("POST", `/v1/cases/${kase.id}/reassign`, { to: kase.advocateId })).status).toBe(403);
    const supervisor = t.as(await t.token("supervisor", { label: "Sam (supervisor)" }));
    const moved = await supervisor("POST", `/v1/cases/${kase.id}/reassign`, {
      to: kase.advocateId,
      note: "Back to you: you spoke to her first.",
    });
    expect(moved.status).toBe(200);
    expect(lastAssigned(moved.body).detail.reason).toMatch(
      /^Sam \(supervisor\) reassigned the case to .+ \(from /,
    );
  });

  it("refuses blank notes, hand-over notes, reasons and call ids, naming the field, and changes nothing", async () => {
    const kase = await openTravelCase(t.api, "blank-1", "+447911123098", {
      name: "Bea Lank",
      homeCountry: "GB",
      day: "2026-11-27",
    });
    const holder = await as(kase.advocateId);
    const to = kase.advocateId === "adv-cy" ? "adv-bo" : "adv-cy";
    // The case's own check text lands on its timeline after it opens: let it, before comparing.
    await t.drained();
    const before = (await t.api("GET", `/v1/cases/${kase.id}`)).body;
    const phoneSystem = t.as(await t.token("ingest", { label: "telephony" }));
    const refusals: Array<[string, Promise<{ status: number; body: Json }>]> = [
      ["text", holder("POST", `/v1/cases/${kase.id}/notes`, { text: "  \n " })],
      ["note", holder("POST", `/v1/cases/${kase.id}/handoff`, { to, note: "\t" })],
      ["note", holder("POST", `/v1/cases/${kase.id}/resolve`, { outcome: "false_alarm", note: "   " })],
      ["reason", holder("POST", `/v1/cases/${kase.id}/actions`, { type: "card.block", reason: " " })],
      ["to", phoneSystem("POST", "/v1/calls", { from: "+447911123098", to: "" })],
      ["callId", phoneSystem("POST", "/v1/calls", { from: "+447911123098", callId: "" })],
      ["callId", phoneSystem("POST", "/v1/calls", { from: "+447911123098", callId: "   " })],
    ];
    for (const [field, answer] of refusals) {
      const r = await answer;
      expect(r.status, field).toBe(400);
      expect(r.body.error.issues, field).toEqual([{ path: field, message: expect.stringMatching(/blank/) }]);
    }
    const after = (await t.api("GET", `/v1/cases/${kase.id}`)).body;
    expect(after.timeline).toEqual(before.timeline);
    expect(after).toMatchObject({ status: "open", advocateId: kase.advocateId });
  });

  it("keeps one note per Idempotency-Key, and refuses another note under a key already used", async () => {
    const kase = await openTravelCase(t.api, "note-1", "+447911123097", {
      name: "Nora Note",
      homeCountry: "GB",
      day: "2026-11-27",
    });
    const holder = await as(kase.advocateId);
    const notes = `/v1/cases/${kase.id}/notes`;
    const text = "She called back: the Paris payment is hers.";
    expect((await holder("POST", notes, { text }, { "idempotency-key": "n-1" })).status).toBe(200);
    expect((await holder("POST", notes, { text }, { "idempotency-key": "n-1" })).status).toBe(200);
    const other = await holder("POST", notes, { text: "Not hers after all." }, { "idempotency-key": "n-1" });
    expect(other.status).toBe(422);
    expect(other.body.error.issues).toEqual([
      { path: "Idempotency-Key", message: expect.stringMatching(/different note/) },
    ]);
    const c = (await t.api("GET", `/v1/cases/${kase.id}`)).body;
    expect(c.timeline.filter((s: Json) => s.kind === "note.added").map((s: Json) => s.detail.text)).toEqual([
      text,
    ]);
  });

  it("records a customer's call on their case and sends it to their advocate, or to the team when they are not online", async () => {
    await t.api("PUT", "/v1/customers/call-1", {
      name: "Cal Ling",
      phone: "+447911123099",
      homeCountry: "GB",
    });
    await t.api("POST", "/v1/events", [
      tx("call-1-a", "call-1", "2026-11-27T09:10:00Z", PARIS),
      tx("call-1-b", "call-1", "2026-11-27T10:10:00Z", PHNOM_PENH),
    ]);
    const kase = await openCaseWith(t.api, "call-1", ["impossible-location-spend"]);
    const phoneSystem = t.as(await t.token("ingest", { label: "telephony" }));
    const call = await phoneSystem("POST", "/v1/calls", {
      from: "07911 123099",
      to: "+44 20 7946 0000",
      callId: "c-1",
    });
    expect(call.status, JSON.stringify(call.body)).toBe(200);
    expect(call.body).toMatchObject({
      caseId: kase.id,
      pushedTo: "advocate",
      advocate: { id: kase.advocateId },
    });
    // The same call told twice is one entry.
    await phoneSystem("POST", "/v1/calls", { from: "+447911123099", callId: "c-1" });
    let c = (await t.api("GET", `/v1/cases/${kase.id}`)).body;
    expect(c.timeline.filter((s: Json) => s.kind === "call.received")).toHaveLength(1);
    expect(c.timeline.find((s: Json) => s.kind === "call.received")).toMatchObject({ actor: "telephony" });
    expect(c.attention).toMatch(/^the customer is calling \(\+44•+3099\); put through to /);
    // Their advocate goes offline: the next call is for anyone of the team.
    await t.api("PUT", `/v1/advocates/${kase.advocateId}/status`, { status: "offline" });
    const second = await phoneSystem("POST", "/v1/calls", { from: "+447911123099", callId: "c-2" });
    expect(second.body).toMatchObject({ pushedTo: "team" });
    c = (await t.api("GET", `/v1/cases/${kase.id}`)).body;
    expect(c.attention).toMatch(/is offline: anyone of team fraud$/);
    await t.api("PUT", `/v1/advocates/${kase.advocateId}/status`, { status: "online" });
    // A number with no case is not an error; an advocate's token may not report calls.
    expect((await phoneSystem("POST", "/v1/calls", { from: "+33612349999" })).body).toMatchObject({
      caseId: null,
    });
    expect((await phoneSystem("POST", "/v1/calls", { from: "nope" })).body.error.issues[0].path).toBe("from");
    expect((await (await as("adv-bo"))("POST", "/v1/calls", { from: "+447911123099" })).status).toBe(403);
  });
});

describe("moving work on the desk, in Chromium", () => {
  let t: TestTouchpoint;
  let browser: Browser;
  let base: string;
  beforeAll(async () => {
    t = await startTestTouchpoint({ listen: true });
    base = `http://127.0.0.1:${t.tp.port}`;
    await loadPeopleVia(t.api);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signIn(advocateId: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${base}/desk`);
    await page.fill("input[name=token]", await t.token("advocate", { advocateId }));
    await page.click("button[type=submit]");
    await page.waitForURL(`${base}/desk`);
    return page;
  }

  it("sets Amara away from her queue, so her customer's next case goes to a colleague; back online, it can come back", async () => {
    const named = await firstCaseHandled(t.api, "dk-1", "+33612345801");
    const page = await signIn(named.id);
    expect(await page.locator("form.status").innerText()).toMatch(/Your status: online/);
    await page.click("form.status button[value=away]");
    await page.waitForURL(`${base}/desk`);
    expect(await page.locator("form.status").innerText()).toMatch(/Your status: away/);
    expect((await t.api("GET", `/v1/advocates/${named.id}`)).body.status).toBe("away");
    await t.api("POST", "/v1/events", [
      tx("dk-1-b1", "dk-1", "2026-11-27T09:10:00Z", PARIS),
      tx("dk-1-b2", "dk-1", "2026-11-27T10:10:00Z", PHNOM_PENH),
    ]);
    const second = await openCaseWith(t.api, "dk-1", ["impossible-location-spend"]);
    expect(second.advocateId).not.toBe(named.id);
    await page.click("form.status button[value=online]");
    await page.waitForURL(`${base}/desk`);
    expect((await t.api("GET", `/v1/advocates/${named.id}`)).body.status).toBe("online");
  });

  it("hands a case over with a note, and the colleague reads the note first", async () => {
    await t.api("PUT", "/v1/customers/dk-2", { name: "Dana Desk", phone: "+33612345802", homeCountry: "FR" });
    await t.api("POST", "/v1/events", [
      tx("dk-2-a", "dk-2", "2026-11-27T09:10:00Z", PARIS),
      tx("dk-2-b", "dk-2", "2026-11-27T10:10:00Z", PHNOM_PENH),
    ]);
    const kase = await openCaseWith(t.api, "dk-2", ["impossible-location-spend"]);
    const colleagues = (await t.api("GET", "/v1/advocates?team=fraud")).body.items as Json[];
    const to = colleagues.find(
      (a) => a.id !== kase.advocateId && a.status === "online" && a.open < a.capacity,
    )!;
    const page = await signIn(kase.advocateId);
    await page.goto(`${base}/desk/cases/${kase.id}`);
    // Without a note the hand-over is refused, saying why.
    await page.selectOption("#work select[name=to]", to.id);
    await page.evaluate(() => document.querySelector("#handoff-note")?.removeAttribute("required"));
    await page.click("#work form[action$='/handoff'] button[type=submit]");
    await page.waitForURL(`${base}/desk/cases/${kase.id}?moved=note#work`);
    expect(await page.locator("#work").innerText()).toContain("A hand-over needs a note");
    const note = "Dana is travelling; she confirmed Phnom Penh by phone. Waiting for her YES or NO.";
    await page.selectOption("#work select[name=to]", to.id);
    await page.fill("#handoff-note", note);
    await page.click("#work form[action$='/handoff'] button[type=submit]");
    await page.waitForURL(`${base}/desk/cases/${kase.id}`);

    const theirs = await signIn(to.id);
    await theirs.goto(`${base}/desk/cases/${kase.id}`);
    const first = await theirs.locator(".handoff").innerText();
    expect(first).toContain(`Handed to you by ${kase.advocate.name}`);
    expect(first).toContain(note);
    // It is the first thing under the title, before anything else of the case.
    const order = await theirs.evaluate(() =>
      [...document.querySelectorAll("#case-head > *")].map((e) => e.className || e.tagName.toLowerCase()),
    );
    expect(order.slice(0, 2)).toEqual(["h1", "handoff"]);
  });

  it("blocks every card of a case from the desk, and replaces them one at a time after confirmed fraud", async () => {
    await t.api("PUT", "/v1/customers/dk-3", { name: "Two Cards", phone: "+33612345803", homeCountry: "FR" });
    const pay = (id: string, at: string, place: typeof PARIS, card: string, last4: string) => ({
      ...tx(id, "dk-3", at, place),
      card: { id: card, last4 },
    });
    const BANGKOK = { city: "Bangkok", country: "TH", lat: 13.7563, lon: 100.5018 };
    await t.api("POST", "/v1/events", [
      pay("dk-3-a", "2026-11-27T09:10:00Z", PARIS, "dk-3-visa", "1111"),
      pay("dk-3-b", "2026-11-27T10:10:00Z", PHNOM_PENH, "dk-3-amex", "2222"),
      pay("dk-3-c", "2026-11-27T14:10:00Z", BANGKOK, "dk-3-visa", "1111"),
    ]);
    const kase = await openCaseWith(t.api, "dk-3", [
      "impossible-location-spend",
      "foreign-spend-without-travel-notice",
    ]);
    const page = await signIn(kase.advocateId);
    await page.goto(`${base}/desk/cases/${kase.id}`);
    await page.fill("#block-reason", "she says on the phone neither card left her bag");
    await page.click("#block-card button[type=submit]");
    await page.waitForURL(`${base}/desk/cases/${kase.id}#block-card`);
    expect(await page.locator("#block-card").innerText()).toContain(
      "Blocking requested: she says on the phone",
    );
    const block = await t.tp.queues.actions.getJob(`card-block-${kase.id}`);
    expect(block).toBeDefined();
    const blocked = (block!.data as { cards: Array<{ last4: string }> }).cards.map((c) => c.last4);
    expect(blocked.sort()).toEqual(["1111", "2222"]);

    await t.api("POST", `/v1/cases/${kase.id}/resolve`, { outcome: "confirmed_fraud" });
    await page.goto(`${base}/desk/cases/${kase.id}`);
    await page.selectOption("#replace-which", "dk-3-amex");
    await page.check("input[name=kind][value=branch]");
    await page.fill("input[name=branch]", "Lyon Part-Dieu");
    await page.click("#replace-card button[type=submit]");
    await page.waitForURL(`${base}/desk/cases/${kase.id}#replace-card`);
    expect(await t.tp.queues.actions.getJob(`replace-${kase.id}-dk-3-amex`)).toBeDefined();
    // The other card is still offered, alone now.
    const form = page.locator("#replace-card form");
    await expect(form.locator("input[type=hidden][name=cardId]").getAttribute("value")).resolves.toBe(
      "dk-3-visa",
    );
  });
});
