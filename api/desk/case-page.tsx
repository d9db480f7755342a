/** The case page: who the customer is, why the case, the texts, the timeline, and what to do. */

import { Hono } from "hono";
import { CALL_OUTCOMES, callBody, logCall } from "../../engine/cases/call-log.ts";
import { ConflictError, NotFoundError, ValidationError } from "../../engine/errors.ts";
import { eventLocation } from "../../engine/events.ts";
import { cleanText } from "../../engine/input.ts";
import { maskPhone } from "../../engine/log.ts";
import type { Metrics } from "../../engine/metrics.ts";
import { advocateTextIssues, writeToCustomer } from "../../engine/outreach/advocate.ts";
import {
  blockCards,
  type CaseActions,
  deliverToSchema,
  replaceCard,
} from "../../engine/outreach/card-actions.ts";
import { oweFeedback } from "../../engine/outreach/feedback.ts";
import type { Strategy } from "../../engine/outreach/strategy.ts";
import { conditionInWords, type Held, placeText, routeText, type Story } from "../../engine/rules/summary.ts";
import { audit, phoneRevealedTo } from "../../engine/store/audit.ts";
import { type CannedReply, listCannedReplies } from "../../engine/store/canned-replies.ts";
import { resolveCase } from "../../engine/store/cases.ts";
import type { Sql } from "../../engine/store/database.ts";
import { getCustomer, listAdvocates } from "../../engine/store/people.ts";
import { addTimeline } from "../../engine/store/timeline.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import { visibleCase } from "../routes/cases.ts";
import { CannedButtons } from "./canned-replies.tsx";
import { Layout, page, Severity, When } from "./layout.tsx";
import { ActivityMap, type MapPoint } from "./map.tsx";
import { NextStep } from "./next-step.tsx";
import type { DeskEnv } from "./session.tsx";
import {
  conversationLine,
  type Detail,
  describeEvent,
  STEP_LABEL,
  stateInWords,
  statusInWords,
  stepText,
  TheirTime,
  whoOf,
} from "./words.tsx";
import { HandOffNote, WorkCard } from "./work.tsx";

/** The customer's located events on a map, the case's journey drawn between its two places. */
function JourneyCard({ c }: { c: Detail }) {
  const points: MapPoint[] = [];
  const story = c.decisions
    .map((d) => (d.explanation as { story?: Story }).story)
    .find((s) => s?.here && s.there);
  // Each label carries its offset: read apart on the map, two bare clocks can seem backwards.
  if (story?.here && story.there) {
    points.push({ ...story.here, label: placeText(story.here), kind: "here" });
    points.push({ ...story.there, label: placeText(story.there), kind: "there" });
  }
  for (const a of c.activity) {
    const at = eventLocation(a.event);
    if (at)
      points.push({
        lat: at.lat,
        lon: at.lon,
        label: describeEvent(a.event),
        kind: a.flagged ? "flagged" : "seen",
      });
  }
  if (points.length === 0) return null;
  const title = (story && routeText(story)) ?? "Where the customer's events happened";
  return (
    <div class="card">
      <h2>Where</h2>
      <ActivityMap points={points} title={title} />
    </div>
  );
}

/** Why a text was refused, by code: the page never echoes text from its address. */
const TEXT_REFUSED: Record<string, string> = {
  empty: "Write something first.",
  long: "Too long: at most four text messages (612 characters).",
  link: "Not sent: the bank's texts never carry links. Say where to look instead.",
  card: "Not sent: that looks like a card number. Use the last four digits only.",
  phone: "Not sent: the only phone number a text may give is the bank's own.",
  stop: "Not sent: the customer replied STOP. Call them instead.",
};

/** After confirmed fraud: a new card, to the address on file, another address, or a branch. */
/** The cards a case is about, from its decisions' payments. */
function casePaymentCards(c: Detail): Array<{ id: string; last4: string }> {
  const cards = new Map<string, string>();
  for (const d of c.decisions)
    if (d.event.type === "card.transaction") cards.set(d.event.card.id, d.event.card.last4);
  return [...cards].map(([id, last4]) => ({ id, last4 }));
}

function ReplaceCard({ c, refused }: { c: Detail; refused?: string | undefined }) {
  if (c.outcome !== "confirmed_fraud") return null;
  const done = c.timeline.filter((s) => s.kind === "action.card_replace");
  const cards = casePaymentCards(c);
  const replaced = new Set(done.map((s) => (s.detail as { card?: { id?: string } }).card?.id));
  const left = cards.filter((k) => !replaced.has(k.id));
  return (
    <div class="card" id="replace-card">
      <h2>Replace the card</h2>
      {done.map((s) => (
        <p class="ok">
          Requested: {(s.detail as { reason?: string }).reason} — <When at={s.at} />
        </p>
      ))}
      {refused === "replace" ? (
        <p class="warn">
          Not requested: say where it goes (for another address: street, town, postcode and country).
        </p>
      ) : null}
      {refused === "replaced" ? <p class="warn">That card is already being replaced.</p> : null}
      {refused === "card" ? <p class="warn">Not requested: choose which card.</p> : null}
      {left.length === 0 && done.length > 0 ? null : (
        <form method="post" action={`/desk/cases/${c.id}/replace-card`}>
          {left.length > 1 ? (
            <>
              <label for="replace-which">Which card</label>
              <select id="replace-which" name="cardId" required>
                {left.map((k) => (
                  <option value={k.id}>card ending {k.last4}</option>
                ))}
              </select>
            </>
          ) : left[0] ? (
            <input type="hidden" name="cardId" value={left[0].id} />
          ) : null}
          <fieldset>
            <legend>Deliver the new card to</legend>
            <label>
              <input type="radio" name="kind" value="home" checked /> the address on file
            </label>
            <label>
              <input type="radio" name="kind" value="address" /> another address the customer gives
            </label>
            <div class="fields">
              <input
                type="text"
                name="line1"
                placeholder="Street and number"
                aria-label="Street and number"
              />
              <input type="text" name="city" placeholder="Town" aria-label="Town" />
              <input type="text" name="postcode" placeholder="Postcode" aria-label="Postcode" />
              <input type="text" name="country" placeholder="Country (FR, GB…)" aria-label="Country code" />
            </div>
            <label>
              <input type="radio" name="kind" value="branch" /> a branch, to collect it
            </label>
            <div class="fields">
              <input type="text" name="branch" placeholder="Branch name" aria-label="Branch name" />
            </div>
          </fieldset>
          <p class="muted small">The customer gets a text naming only the town or the branch.</p>
          <button class="primary" type="submit">
            Replace card
          </button>
        </form>
      )}
    </div>
  );
}

/** On an open case: block its cards at once (the customer said on the phone it was not them). */
function BlockCard({ c }: { c: Detail }) {
  if (c.status !== "open" || casePaymentCards(c).length === 0) return null;
  const blocked = c.timeline.find((s) => s.kind === "action.card_block");
  return (
    <div class="card" id="block-card">
      <h2>Block the card</h2>
      {blocked ? (
        <p class="ok">
          Blocking requested: {(blocked.detail as { reason?: string }).reason} — <When at={blocked.at} />
        </p>
      ) : (
        <form method="post" action={`/desk/cases/${c.id}/block-card`}>
          <label for="block-reason">Why (for the card system and the timeline)</label>
          <textarea id="block-reason" name="reason" rows={2} maxlength={500} required />
          <button class="danger" type="submit">
            Block every card of this case
          </button>
        </form>
      )}
    </div>
  );
}

/** The texts out and in as one thread, who wrote each, its delivery state, and the reply box. */
/** Where the reply box's text goes: where the customer last wrote (as the outreach path decides), else by text. */
function replyLabel(c: Detail): string {
  const last = [...c.messages].reverse().find((m) => m.direction === "inbound" && m.channel !== "voice");
  // WhatsApp takes free text only within 24 hours of the customer's last message there.
  if (last?.channel === "whatsapp" && Date.now() - Date.parse(last.createdAt) < 24 * 3600_000)
    return "WhatsApp";
  if (last?.channel === "app") return "Answer in the app to";
  return "Text";
}

function Conversation({
  c,
  error,
  canned = [],
  draft,
}: {
  c: Detail;
  error?: string | undefined;
  /** The canned replies in the customer's language, and the one chosen without a script. */
  canned?: readonly CannedReply[];
  draft?: string | undefined;
}) {
  const optedOut = c.customer?.optedOut ?? false;
  return (
    <div class="card" id="conversation">
      <h2>Conversation</h2>
      {c.messages.length === 0 ? <p class="muted">Nothing sent or received yet.</p> : null}
      <ol class="thread" id="thread" data-live>
        {c.messages.map((m) => (
          <li class={`msg ${m.direction === "inbound" ? "in" : "out"}`}>
            <div class="muted">
              {conversationLine(m, c.customer?.name ?? "The customer")} · <When at={m.createdAt} />
              {m.channel === "voice" ? null : <> · {statusInWords(m)}</>}
              {m.transport === "outbox" && m.direction === "outbound" ? (
                <>
                  {" "}
                  <span class="outbox">OUTBOX — NOT SENT</span>
                </>
              ) : null}
            </div>
            <div class="body">{m.body}</div>
          </li>
        ))}
      </ol>
      {error && TEXT_REFUSED[error] ? <p class="warn">{TEXT_REFUSED[error]}</p> : null}
      {optedOut ? (
        <p class="warn">Texts are off: the customer replied STOP. Call them instead.</p>
      ) : (
        <form method="post" action={`/desk/cases/${c.id}/messages`}>
          <label for="reply-text">
            {replyLabel(c)} {c.customer?.name ?? "the customer"}
          </label>
          <textarea id="reply-text" name="text" rows={2} maxlength={612} required>
            {draft ?? ""}
          </textarea>
          {/* One text per form drawn: a double click or a resubmit sends it once. */}
          <input type="hidden" name="nonce" value={crypto.randomUUID()} />
          <p class="muted small">No links and no card numbers: customers know the bank never sends them.</p>
          <button class="primary" type="submit">
            Send text
          </button>
        </form>
      )}
      {optedOut ? null : (
        <CannedButtons caseId={c.id} language={c.customer?.language ?? "en"} replies={canned} />
      )}
    </div>
  );
}

function CasePage({
  c,
  principal,
  revealPhone = false,
  error,
  colleagues = [],
  moved,
  strategy,
  voice = false,
  canned,
  draft,
}: {
  canned?: readonly CannedReply[];
  draft?: string | undefined;
  c: Detail;
  principal: Principal;
  strategy: Strategy;
  /** Automated calls are configured (the next step may be one). */
  voice?: boolean;
  revealPhone?: boolean;
  error?: string | undefined;
  colleagues?: Awaited<ReturnType<typeof listAdvocates>>;
  moved?: string | undefined;
}) {
  const open = c.status === "open";
  // The story sentence of the case's first explained decision leads the page; the card below
  // keeps the rest of each decision (issue 25: at 390 px it used to sit 2,500 px down).
  const lead = c.decisions.map((d) => (d.explanation as { summary?: string }).summary).find(Boolean);
  return (
    <Layout title={c.title} who={whoOf(principal)} role={principal.role} caseId={c.id}>
      <div id="case-head" data-live>
        <h1>
          {c.title} <Severity value={c.severity} />
        </h1>
        {/* A colleague's hand-over note is read before anything else, then why, then what to do. */}
        <HandOffNote c={c} principal={principal} />
        {lead ? <p class="story lead">{lead}</p> : null}
        <NextStep c={c} strategy={strategy} voice={voice} />
        <p class="muted">
          {c.id} · opened <When at={c.openedAt} /> · <b class={open ? "" : "ok"}>{stateInWords(c)}</b> ·
          advocate <b>{c.advocate?.name ?? "waiting for an advocate"}</b>
        </p>
      </div>
      {/* Markup order is the reading and tab order: the conversation and the call come before the
          rarer forms (hand over, block, replace, resolve) and the long record on the right. */}
      <div class="grid">
        <section>
          <Conversation c={c} error={error} canned={canned} draft={draft} />
          <div class="card">
            <h2>Customer</h2>
            {c.customer ? (
              <table>
                <tbody>
                  <tr>
                    <th>Name</th>
                    <td>{c.customer.name}</td>
                  </tr>
                  <tr>
                    <th>Phone</th>
                    <td>
                      {revealPhone ? <b>{c.customer.phone}</b> : maskPhone(c.customer.phone)}{" "}
                      {c.customer.optedOut ? <span class="warn">opted out of texts</span> : null}
                      {revealPhone ? null : (
                        <form class="inline" method="post" action={`/desk/cases/${c.id}/phone`}>
                          <button
                            type="submit"
                            title="Shows the full number; the audit log records who asked"
                          >
                            Show number to call
                          </button>
                        </form>
                      )}
                    </td>
                  </tr>
                  <tr>
                    <th>Home</th>
                    <td>
                      {c.customer.homeCountry} · {c.customer.timezone ?? "zone from country"} ·{" "}
                      {c.customer.language}
                    </td>
                  </tr>
                </tbody>
              </table>
            ) : (
              <p class="warn">Unknown customer {c.customerId}</p>
            )}
          </div>
          {open || c.attention ? <LogCall c={c} /> : null}
          <WorkCard c={c} principal={principal} colleagues={colleagues} refused={moved} />
          {/* Live: a NO blocks the card and opens "Replace the card" on a page already open. */}
          <div id="block-slot" data-live>
            <BlockCard c={c} />
          </div>
          <div id="replace-slot" data-live>
            <ReplaceCard c={c} refused={error} />
          </div>
          {open ? (
            <div class="card">
              <h2>Resolve</h2>
              <form method="post" action={`/desk/cases/${c.id}/resolve`}>
                <p>
                  <textarea name="note" rows={2} placeholder="What the customer said (optional)" />
                </p>
                <button class="danger" name="outcome" value="confirmed_fraud" type="submit">
                  Confirmed fraud
                </button>{" "}
                <button class="primary" name="outcome" value="false_alarm" type="submit">
                  False alarm
                </button>
              </form>
            </div>
          ) : null}
          <div class="card">
            <h2>Before this case</h2>
            {c.previousCases.length === 0 ? (
              <p class="muted">First case for this customer.</p>
            ) : (
              <ul>
                {c.previousCases.map((p) => (
                  <li>
                    <a href={`/desk/cases/${p.id}`}>{p.title}</a> — <When at={p.openedAt} />,{" "}
                    {p.outcome ?? p.status}
                    {p.advocateName ? `, with ${p.advocateName}` : ""}
                    {p.lastNote ? <div class="muted">“{p.lastNote}”</div> : null}
                  </li>
                ))}
              </ul>
            )}
          </div>
        </section>
        <section>
          <div class="card">
            <h2>Why this case</h2>
            {c.decisions.map((d) => {
              const x = d.explanation as { summary?: string; held?: Held[] };
              return (
                <div class="why">
                  <div>
                    <Severity value={d.severity} /> <b>{d.title}</b>
                  </div>
                  {x.summary && x.summary !== lead ? <p class="story">{x.summary}</p> : null}
                  <div class="muted">
                    {describeEvent(d.event)} · <When at={d.event.occurredAt} />
                    <TheirTime event={d.event} />
                  </div>
                  <ul class="held">
                    {(x.held ?? [])
                      .filter((h) => h.fact !== "event.type")
                      .map((h) => (
                        <li>{conditionInWords(h)}</li>
                      ))}
                  </ul>
                  <div class="muted small">
                    rule {d.rule}, version {d.rulesetVersion}
                  </div>
                </div>
              );
            })}
          </div>
          <JourneyCard c={c} />
          <div class="card">
            <h2>Recent activity</h2>
            {c.activity.length === 0 ? <p class="muted">No events stored for this customer.</p> : null}
            <ol class="activity" id="activity" data-live>
              {c.activity.map((a) => (
                <li class={a.flagged ? "flagged" : ""}>
                  <span class="when">
                    <When at={a.event.occurredAt} />
                    <TheirTime event={a.event} />
                  </span>{" "}
                  {describeEvent(a.event)}
                  {a.flagged ? <b class="flag"> on this case</b> : null}
                </li>
              ))}
            </ol>
          </div>
          <div class="card">
            <h2>Timeline</h2>
            <ol class="timeline" id="timeline" data-live>
              {c.timeline.map((s) => (
                <li>
                  <span class="when">
                    <When at={s.at} />
                  </span>
                  <b>{STEP_LABEL[s.kind] ?? s.kind}</b>{" "}
                  {stepText(s.kind, s.detail as Record<string, unknown>)}
                  {s.actor !== "system" ? <span class="muted"> — {s.actor}</span> : null}
                </li>
              ))}
            </ol>
            <form method="post" action={`/desk/cases/${c.id}/notes`}>
              <p>
                <textarea
                  name="text"
                  rows={2}
                  placeholder="Add a note for whoever helps this customer next"
                  required
                />
              </p>
              <button type="submit">Add note</button>
            </form>
          </div>
        </section>
      </div>
    </Layout>
  );
}

/** The outcomes as the form offers them, in the order an advocate meets them. */
const CALL_OUTCOME_LABEL: Record<(typeof CALL_OUTCOMES)[number], string> = {
  reached: "Reached the customer",
  no_answer: "No answer",
  left_message: "Left a message",
};

/** Logging a call answers the call task above it: the form sits beside the number to call. */
function LogCall({ c }: { c: Detail }) {
  return (
    <div class="card" id="log-call">
      <h2>Log a call</h2>
      <form method="post" action={`/desk/cases/${c.id}/calls`}>
        <fieldset>
          <legend>How did the call go?</legend>
          {CALL_OUTCOMES.map((o, i) => (
            <label>
              <input type="radio" name="outcome" value={o} checked={i === 0} /> {CALL_OUTCOME_LABEL[o]}
            </label>
          ))}
        </fieldset>
        <p>
          <label for="call-note">Note (optional)</label>
          {/* Not "note": the resolve form below has one, and a page's fields are found by name. */}
          <textarea id="call-note" name="callNote" rows={2} maxlength={4000} />
        </p>
        {/* One call per form drawn: a double click or a resubmit logs it once. */}
        <input type="hidden" name="nonce" value={crypto.randomUUID()} />
        <button type="submit">Log call</button>
      </form>
    </div>
  );
}

function refusalCode(issue: string): string {
  if (issue === "empty") return "empty";
  if (issue.includes("link")) return "link";
  if (issue.includes("card number")) return "card";
  if (issue.includes("phone number")) return "phone";
  return "long";
}

/** How long a shown number stays shown to whoever asked, ms: long enough to dial it. */
const REVEAL_MS = 5 * 60_000;

export function caseRoutes(sql: Sql, opts: { metrics?: Metrics; texting: CaseActions; strategy: Strategy }) {
  const app = new Hono<DeskEnv>();
  app.get("/cases/:id", async (c) => {
    const p = c.get("principal");
    try {
      const detail = await visibleCase(sql, p, c.req.param("id"));
      const colleagues = await listAdvocates(sql, detail.team);
      // The number stays shown for a few minutes after this viewer asked for it (and was audited).
      const revealPhone = await phoneRevealedTo(sql, p.advocateId ?? p.tokenId, detail.customerId, REVEAL_MS);
      if (revealPhone) c.header("Cache-Control", "no-store");
      // The customer's language's canned replies; one chosen without a script comes back in the box.
      const canned = detail.customer ? await listCannedReplies(sql, detail.customer.language) : [];
      const draft = canned.find((r) => r.id === c.req.query("canned"))?.text;
      return c.html(
        <CasePage
          c={detail}
          principal={p}
          error={c.req.query("refused")}
          colleagues={colleagues}
          moved={c.req.query("moved")}
          revealPhone={revealPhone}
          strategy={opts.strategy}
          voice={opts.texting.channels?.has("voice") ?? false}
          canned={canned}
          draft={draft}
        />,
      );
    } catch (err) {
      if (err instanceof NotFoundError) return c.html(page("Not found", <p>No such case.</p>, whoOf(p)), 404);
      throw err;
    }
  });

  app.post("/cases/:id/resolve", async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const form = await c.req.parseBody();
    const outcome =
      form.outcome === "confirmed_fraud"
        ? "confirmed_fraud"
        : form.outcome === "false_alarm"
          ? "false_alarm"
          : null;
    if (outcome) {
      const note =
        typeof form.note === "string" && form.note.trim() ? cleanText(form.note).trim().slice(0, 4000) : null;
      const r = await resolveCase(sql, kase.id, outcome, p.advocateId ?? p.tokenId, `resolved:${kase.id}`, {
        by: "advocate",
        note,
      });
      if (r.resolved) opts.metrics?.timeToResolve.observe({ outcome, by: "advocate" }, r.secondsOpen);
      await oweFeedback(opts.texting.feedbackAfterResolution, opts.texting.owe, kase.id, r);
    }
    return c.redirect(`/desk/cases/${kase.id}`, 303);
  });

  // Advocates call customers, so they may see the number; every look is in the audit log.
  app.post("/cases/:id/phone", async (c) => {
    const p = c.get("principal");
    const detail = await visibleCase(sql, p, c.req.param("id"));
    await audit(sql, p.advocateId ?? p.tokenId, "customer.phone_revealed", `customer:${detail.customerId}`, {
      caseId: detail.id,
    });
    // On the timeline too: whoever looked up the number is about to call, so the case is in hand.
    await addTimeline(
      sql,
      detail.id,
      "phone.revealed",
      `reveal:${detail.id}:${crypto.randomUUID()}`,
      { reason: "number shown to call the customer" },
      { actor: p.advocateId ?? p.tokenId },
    );
    // Post/Redirect/Get: the page that shows the number is a GET a reload cannot post again.
    return c.redirect(`/desk/cases/${detail.id}`, 303);
  });

  app.post("/cases/:id/messages", async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const form = await c.req.parseBody();
    const text = typeof form.text === "string" ? form.text : "";
    const issues = advocateTextIssues(cleanText(text), opts.texting.bank.phone);
    const refused = issues.length === 0 ? undefined : refusalCode(issues[0]!);
    if (refused) return c.redirect(`/desk/cases/${kase.id}?refused=${refused}#conversation`, 303);
    try {
      const nonce =
        typeof form.nonce === "string" && /^[A-Za-z0-9-]{1,100}$/.test(form.nonce) ? form.nonce : undefined;
      await writeToCustomer(opts.texting, {
        caseId: kase.id,
        customerId: kase.customerId,
        text,
        author: p.advocateId ?? p.tokenId,
        ...(nonce ? { idempotencyKey: nonce } : {}),
      });
    } catch (err) {
      if (err instanceof ConflictError)
        return c.redirect(`/desk/cases/${kase.id}?refused=stop#conversation`, 303);
      throw err;
    }
    return c.redirect(`/desk/cases/${kase.id}#conversation`, 303);
  });

  app.post("/cases/:id/replace-card", async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const form = await c.req.parseBody();
    const field = (k: string) => (typeof form[k] === "string" ? cleanText(form[k] as string).trim() : "");
    const kind = field("kind");
    const deliverTo = deliverToSchema.safeParse(
      kind === "address"
        ? {
            kind,
            line1: field("line1"),
            city: field("city"),
            postcode: field("postcode"),
            country: field("country").toUpperCase(),
          }
        : kind === "branch"
          ? { kind, branch: field("branch") }
          : { kind: "home" },
    );
    const customer = await getCustomer(sql, kase.customerId);
    if (!deliverTo.success || !customer)
      return c.redirect(`/desk/cases/${kase.id}?refused=replace#replace-card`, 303);
    try {
      await replaceCard(
        { ...opts.texting, now: new Date() },
        {
          kase,
          customer,
          cardId: field("cardId") || undefined,
          deliverTo: deliverTo.data,
          by: p.advocateId ?? p.tokenId,
        },
      );
    } catch (err) {
      const code =
        err instanceof ConflictError
          ? "replaced"
          : err instanceof ValidationError
            ? err.issues[0]?.path === "cardId"
              ? "card"
              : "replace"
            : undefined;
      if (code) return c.redirect(`/desk/cases/${kase.id}?refused=${code}#replace-card`, 303);
      throw err;
    }
    return c.redirect(`/desk/cases/${kase.id}#replace-card`, 303);
  });

  app.post("/cases/:id/block-card", async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const form = await c.req.parseBody();
    const reason = typeof form.reason === "string" ? cleanText(form.reason).trim().slice(0, 500) : "";
    if (reason) {
      try {
        await blockCards(
          { ...opts.texting, now: new Date() },
          { kase, customerId: kase.customerId, reason, by: p.advocateId ?? p.tokenId },
        );
      } catch (err) {
        if (!(err instanceof ConflictError || err instanceof ValidationError)) throw err;
      }
    }
    return c.redirect(`/desk/cases/${kase.id}#block-card`, 303);
  });

  app.post("/cases/:id/calls", async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const form = await c.req.parseBody();
    const note = typeof form.callNote === "string" ? cleanText(form.callNote).trim().slice(0, 4000) : "";
    const call = callBody.safeParse({ outcome: form.outcome, ...(note ? { note } : {}) });
    // The form offers only the known outcomes; anything else is not a call to log.
    if (!call.success) return c.redirect(`/desk/cases/${kase.id}#log-call`, 303);
    const key =
      typeof form.nonce === "string" && /^[A-Za-z0-9-]{1,100}$/.test(form.nonce)
        ? form.nonce
        : crypto.randomUUID();
    if (await logCall(sql, { ...call.data, caseId: kase.id, by: p.advocateId ?? p.tokenId, key }))
      await audit(sql, p.tokenId, "case.call", `case:${kase.id}`);
    return c.redirect(`/desk/cases/${kase.id}#timeline`, 303);
  });

  app.post("/cases/:id/notes", async (c) => {
    const p = c.get("principal");
    const kase = await visibleCase(sql, p, c.req.param("id"));
    const form = await c.req.parseBody();
    const text = typeof form.text === "string" ? cleanText(form.text).trim().slice(0, 4000) : "";
    if (text) {
      await addTimeline(
        sql,
        kase.id,
        "note.added",
        `note:${kase.id}:${crypto.randomUUID()}`,
        { text },
        { actor: p.advocateId ?? p.tokenId },
      );
      await audit(sql, p.tokenId, "case.note", `case:${kase.id}`);
    }
    return c.redirect(`/desk/cases/${kase.id}`, 303);
  });

  return app;
}
