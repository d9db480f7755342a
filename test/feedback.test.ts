import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../engine/config.ts";
import { signVonageWebhook } from "../engine/outreach/signature.ts";
import { eventually, type Json, loadPeopleVia, openCaseWith } from "../fixtures/stories.ts";
import { startFakeVonage, vonageEnv } from "./support/fake-vonage.ts";
import { startTestTouchpoint } from "./support/harness.ts";

const SECRET = "test-signature-secret-0123456789";
const PHNOM_PENH = { city: "Phnom Penh", country: "KH", lat: 11.5564, lon: 104.9282 };
const PARIS = { city: "Paris", country: "FR", lat: 48.8566, lon: 2.3522 };
const LONDON = { city: "London", country: "GB", lat: 51.5072, lon: -0.1276 };
const NOON = new Date("2026-11-22T12:00:00Z");

const tx = (id: string, customerId: string, occurredAt: string, place: typeof PARIS) => ({
  id,
  type: "card.transaction",
  occurredAt,
  customerId,
  card: { id: `${customerId}-card`, last4: "5555" },
  amount: { value: 640, currency: "EUR" },
  merchant: { name: "Maison Test", mcc: "5311", ...place },
  channel: "card_present",
});

/** A touchpoint texting through a fake Vonage, with a clock the test moves. */
async function texting(env: Record<string, string>) {
  const fake = await startFakeVonage();
  const clock = { now: NOON };
  const t = await startTestTouchpoint({
    env: {
      ...vonageEnv(fake, SECRET),
      ...env,
    },
    now: () => clock.now,
  });
  await loadPeopleVia(t.api);
  let uuid = 0;
  const textsTo = (phone: string) => fake.messages.filter((m) => m.to === phone.replace("+", ""));
  const questionsTo = (phone: string) => textsTo(phone).filter((m) => m.clientRef?.endsWith(":feedback"));
  const caseById = async (id: string): Promise<Json> => (await t.api("GET", `/v1/cases/${id}`)).body;
  const steps = (c: Json, kind: string): Json[] => c.timeline.filter((s: Json) => s.kind === kind);

  /** A signed inbound text from the customer's number; resent as is when `id` is given again. */
  async function reply(phone: string, text: string, id = `in-${++uuid}`) {
    const raw = JSON.stringify({
      channel: "sms",
      message_uuid: id,
      to: "TPBank",
      from: phone.replace("+", ""),
      timestamp: new Date().toISOString(),
      text,
      message_type: "text",
    });
    const authorization = await signVonageWebhook({ rawBody: raw, secret: SECRET, now: new Date() });
    const r = await t.tp.app!.request("/webhooks/vonage/inbound", {
      method: "POST",
      headers: { authorization, "content-type": "application/json" },
      body: raw,
    });
    expect(r.status).toBe(200);
    return id;
  }

  /** A customer with an open case whose check has gone out. */
  async function textedCase(
    id: string,
    phone: string,
    opts: { language?: string; events?: object[]; rule?: string } = {},
  ) {
    await t.api("PUT", `/v1/customers/${id}`, {
      name: `Customer ${id}`,
      phone,
      homeCountry: "FR",
      language: opts.language ?? "en",
    });
    const before = textsTo(phone).length;
    await t.api(
      "POST",
      "/v1/events",
      opts.events ?? [
        tx(`${id}-a`, id, "2026-11-22T09:10:00Z", PARIS),
        tx(`${id}-b`, id, "2026-11-22T10:40:00Z", PHNOM_PENH),
      ],
    );
    const kase = await openCaseWith(t.api, id, [opts.rule ?? "impossible-location-spend"]);
    await eventually(
      async () => (textsTo(phone).length > before ? true : undefined),
      20_000,
      `a text to ${id}`,
    );
    await t.drained();
    return kase;
  }

  /** The case's feedback job, waiting out its delay after resolution: run it now. */
  async function askNow(caseId: string, jobId = `feedback-${caseId}`) {
    const job = await eventually(async () => t.tp.queues.outreach.getJob(jobId), 20_000, `job ${jobId}`);
    if ((await job.getState()) === "delayed") await job.promote();
    await eventually(
      async () => ((await job.getState()) === "completed" ? true : undefined),
      20_000,
      `job ${jobId} done`,
    );
    await t.drained();
  }

  const feedbackOf = async (caseId: string) =>
    (await t.tp.db.sql`select * from feedback where case_id = ${caseId}`)[0];

  return { t, fake, clock, textsTo, questionsTo, caseById, steps, reply, textedCase, askNow, feedbackOf };
}

describe("the feedback question, with FEEDBACK_AFTER_RESOLUTION=1", () => {
  let h: Awaited<ReturnType<typeof texting>>;
  beforeAll(async () => {
    h = await texting({ FEEDBACK_AFTER_RESOLUTION: "1" });
  });
  afterAll(async () => {
    await h?.t.close();
    await h?.fake.close();
  });

  const SOPHIE = "+33612350001";
  let first: Json;

  it("asks a customer whose case resolved exactly one question, in their language, however often its job runs", async () => {
    const { t } = h;
    first = await h.textedCase("fb-1", SOPHIE, { language: "fr" });
    const yes = await h.reply(SOPHIE, "oui");
    await eventually(async () => ((await h.caseById(first.id)).status === "resolved" ? true : undefined));
    await h.reply(SOPHIE, "oui", yes); // Vonage resends when unsure
    await h.askNow(first.id);

    const questions = h.questionsTo(SOPHIE);
    expect(questions).toHaveLength(1);
    expect(questions[0]!.text).toBe(
      "Touchpoint Bank : comment avons-nous géré cela ? Répondez de 1 (mauvais) à 5 (très bien). Merci, Amara Okafor",
    );
    // The job again under another id (as a reconciler re-drives it): the question is not sent twice.
    const again = await t.tp.queues.outreach.add(
      "feedback",
      (await t.tp.queues.outreach.getJob(`feedback-${first.id}`))!.data,
      { jobId: `feedback-${first.id}-again` },
    );
    await eventually(async () => ((await again.getState()) === "completed" ? true : undefined));
    await t.drained();
    expect(h.questionsTo(SOPHIE)).toHaveLength(1);

    const [c] = await t.tp.db.sql`select advocate_id, team from cases where id = ${first.id}`;
    expect(await h.feedbackOf(first.id)).toMatchObject({
      customer_id: "fb-1",
      advocate_id: c!.advocate_id,
      team: c!.team,
      channel: "sms",
      asked_at: NOON,
      score: null,
    });
    expect(c!.advocate_id).toBeTruthy();
    expect(h.steps(await h.caseById(first.id), "feedback.asked")).toHaveLength(1);
  });

  it("records a reply of 5 as the case's score, against its advocate and team, and keeps the words that follow", async () => {
    const { t } = h;
    const five = await h.reply(SOPHIE, "5");
    const row = await eventually(async () => {
      const f = await h.feedbackOf(first.id);
      return f?.score === 5 ? f : undefined;
    });
    const [c] = await t.tp.db
      .sql`select advocate_id, team, status, outcome from cases where id = ${first.id}`;
    expect(row).toMatchObject({ score: 5, advocate_id: c!.advocate_id, team: c!.team, answered_at: NOON });
    // A digit is a score, not a text for the advocate, nor anything else.
    expect(c).toMatchObject({ status: "resolved", outcome: "false_alarm" });
    await h.reply(SOPHIE, "5", five); // resent
    await h.reply(SOPHIE, "Très rapide, merci à Amara");
    await eventually(async () => ((await h.feedbackOf(first.id))?.comment ? true : undefined));
    await t.drained();

    expect(await h.feedbackOf(first.id)).toMatchObject({ score: 5, comment: "Très rapide, merci à Amara" });
    const kase = await h.caseById(first.id);
    const received = h.steps(kase, "feedback.received");
    expect(received.map((s) => s.detail)).toEqual([
      { score: 5, text: "5" },
      expect.objectContaining({ text: "Très rapide, merci à Amara" }),
    ]);
    // The digit alerted nobody; the words reach the advocate as any late text does.
    expect(h.steps(kase, "advocate.alerted")).toHaveLength(1);

    // And it shows in the experience figures, for that advocate, team and rule.
    const day = `since=2026-11-22T00:00:00Z&until=2026-11-23T00:00:00Z`;
    const figures = (await t.api("GET", `/v1/experience?${day}&team=${c!.team}`)).body.feedback;
    expect(figures).toMatchObject({ answered: 1, mean: 5 });
    expect(figures.byAdvocate).toEqual([
      expect.objectContaining({ key: c!.advocate_id, answered: 1, mean: 5 }),
    ]);
    expect(figures.byTeam).toEqual([{ key: c!.team, answered: 1, mean: 5 }]);
    expect(figures.byRule).toContainEqual({ key: "impossible-location-spend", answered: 1, mean: 5 });
  });

  it("asks nothing after a second case resolved within FEEDBACK_PERIOD_DAYS, and a YES still closes that case", async () => {
    const texts = h.textsTo(SOPHIE).length;
    // Phnom Penh at 10:40, Paris at 11:30: a new incident, while the first question is still open.
    const second = await h.textedCase("fb-1", SOPHIE, {
      language: "fr",
      events: [tx("fb-1-c", "fb-1", "2026-11-22T11:30:00Z", PARIS)],
    });
    expect(second.id).not.toBe(first.id);
    expect(h.textsTo(SOPHIE)).toHaveLength(texts + 1);
    await h.reply(SOPHIE, "oui");
    await eventually(async () => ((await h.caseById(second.id)).status === "resolved" ? true : undefined));
    await h.askNow(second.id);

    expect(h.questionsTo(SOPHIE)).toHaveLength(1);
    expect(await h.feedbackOf(second.id)).toBeUndefined();
    const [skipped] = h.steps(await h.caseById(second.id), "feedback.skipped");
    expect(skipped.detail.reason).toMatch(
      new RegExp(`asked on case ${first.id} .*FEEDBACK_PERIOD_DAYS \\(30\\)`),
    );
  });

  it("does not ask a customer who sent STOP", async () => {
    const { t } = h;
    const phone = "+33612350003";
    const kase = await h.textedCase("fb-stop", phone);
    await h.reply(phone, "STOP");
    await eventually(async () => (h.textsTo(phone).length === 2 ? true : undefined));
    await t.api("POST", `/v1/cases/${kase.id}/resolve`, { outcome: "false_alarm" });
    await h.askNow(kase.id);

    expect(h.textsTo(phone)).toHaveLength(2);
    expect(h.questionsTo(phone)).toEqual([]);
    expect(await h.feedbackOf(kase.id)).toBeUndefined();
    const [skipped] = h.steps(await h.caseById(kase.id), "feedback.skipped");
    expect(skipped.detail.reason).toMatch(/opted out/);
  });

  it("holds the question of a case resolved in the customer's night until their morning", async () => {
    const { t, clock } = h;
    const phone = "+33612350004";
    const kase = await h.textedCase("fb-night", phone, {
      events: [tx("fb-night-a", "fb-night", "2026-11-22T11:50:00Z", LONDON)],
      rule: "foreign-spend-without-travel-notice",
    });
    clock.now = new Date("2026-11-22T22:30:00Z"); // 22:30 in London, where the customer is
    try {
      await t.api("POST", `/v1/cases/${kase.id}/resolve`, { outcome: "false_alarm" });
      await h.askNow(kase.id);
      const morning = Date.parse("2026-11-23T08:00:00Z");
      const held = await eventually(async () =>
        t.tp.queues.outreach.getJob(`feedback-${kase.id}-at-${morning}`),
      );
      expect(await held.getState()).toBe("delayed");
      expect(h.questionsTo(phone)).toEqual([]);
      expect(await h.feedbackOf(kase.id)).toBeUndefined();
      const decided = h.steps(await h.caseById(kase.id), "contact.decided").at(-1)!;
      expect(decided.detail).toMatchObject({ action: "defer", timezone: "Europe/London" });

      clock.now = new Date("2026-11-23T08:00:00Z");
      await h.askNow(kase.id, `feedback-${kase.id}-at-${morning}`);
      expect(h.questionsTo(phone)).toHaveLength(1);
      expect(h.questionsTo(phone)[0]!.text).toMatch(
        /^Touchpoint Bank: how did we handle this\? Reply 1 \(poor\) to 5/,
      );
      expect(await h.feedbackOf(kase.id)).toMatchObject({ asked_at: clock.now });
    } finally {
      clock.now = NOON;
    }
  });
});

describe("the feedback question, by default", () => {
  let h: Awaited<ReturnType<typeof texting>>;
  beforeAll(async () => {
    h = await texting({});
  });
  afterAll(async () => {
    await h?.t.close();
    await h?.fake.close();
  });

  it("is off: a resolved case's customer is asked nothing", async () => {
    const { t } = h;
    expect(loadConfig({})).toMatchObject({ FEEDBACK_AFTER_RESOLUTION: false, FEEDBACK_PERIOD_DAYS: 30 });
    const phone = "+33612350005";
    const kase = await h.textedCase("fb-off", phone);
    await h.reply(phone, "yes");
    await eventually(async () => (h.textsTo(phone).length === 2 ? true : undefined));
    await t.api("POST", `/v1/cases/${kase.id}/resolve`, { outcome: "false_alarm" });
    await t.drained();

    expect(await t.tp.queues.outreach.getJob(`feedback-${kase.id}`)).toBeUndefined();
    expect(h.textsTo(phone).map((m) => m.clientRef)).toEqual([`${kase.id}:check`, `${kase.id}:thanks`]);
    expect(await t.tp.db.sql`select * from feedback`).toEqual([]);
  });
});
