/**
 * Card actions a person asks for on a case. Replacing a card after confirmed fraud: the advocate
 * says where it goes (the address on file, another address the customer gives, or a branch); a
 * `card.replace` action goes on queue `actions` for the card system, the request goes on the
 * case's timeline, and the customer gets a text saying when and where — a town or a branch name,
 * never a street address. Blocking: the same request a NO by text makes.
 */
import { createHash } from "node:crypto";
import { DateTime } from "luxon";
import { z } from "zod";
import { ConflictError, ValidationError } from "../errors.ts";
import { text } from "../events.ts";
import { zoneAt } from "../features/places.ts";
import { caseCards } from "../store/decisions.ts";
import { claimOutbound } from "../store/messages.ts";
import type { Customer } from "../store/people.ts";
import { addTimeline } from "../store/timeline.ts";
import { type AdvocateTexting, advocateTextIssues } from "./advocate.ts";
import type { CardBlockAction } from "./conversation.ts";
import { renderMessage } from "./templates.ts";

export const deliverToSchema = z.discriminatedUnion("kind", [
  /** The address the bank has on file (the card system holds it). */
  z.strictObject({ kind: z.literal("home") }),
  /** Another address the customer gives on the phone. */
  z.strictObject({
    kind: z.literal("address"),
    line1: text(200),
    line2: text(200).optional(),
    city: text(120),
    postcode: text(20),
    country: z.string().regex(/^[A-Z]{2}$/, "ISO 3166-1 alpha-2 country code, e.g. FR"),
  }),
  /** A branch, to collect it from. */
  z.strictObject({ kind: z.literal("branch"), branch: text(120) }),
]);
export type DeliverTo = z.infer<typeof deliverToSchema>;

/** What goes on queue `actions` for the card system. */
export interface CardReplaceAction {
  type: "card.replace";
  caseId: string;
  customerId: string;
  card: { id: string; last4: string };
  deliverTo: DeliverTo;
  requestedBy: string;
  /** The date the customer was told, YYYY-MM-DD in their zone. */
  arrivesBy: string;
}

/** Working days until a replacement is there: posted (2 to a branch, 3 to an address). */
export function workingDaysFor(d: DeliverTo): number {
  return d.kind === "branch" ? 2 : 3;
}

/** `days` working days (Monday to Friday) after `now`, in `zone`. Pure. */
export function addWorkingDays(now: Date, zone: string, days: number): DateTime {
  let t = DateTime.fromJSDate(now, { zone });
  for (let left = days; left > 0; ) {
    t = t.plus({ days: 1 });
    if (t.weekday <= 5) left--;
  }
  return t;
}

/** Where, as the text may say it: a town or a branch, nothing a thief could go to. Pure. */
export function deliveryInWords(d: DeliverTo, homeCity: string | null, lang: string): string {
  const fr = lang === "fr";
  switch (d.kind) {
    case "home":
      return homeCity
        ? fr
          ? `votre domicile à ${homeCity}`
          : `your home address in ${homeCity}`
        : fr
          ? "votre domicile"
          : "your home address";
    case "address":
      return fr ? `l'adresse que vous nous avez donnée à ${d.city}` : `the address you gave us in ${d.city}`;
    case "branch":
      return fr ? `notre agence ${d.branch}` : `our ${d.branch} branch`;
  }
}

/**
 * Requests the replacement (once per card per case) and texts the customer, unless they said
 * STOP. Throws ConflictError when the case is not confirmed fraud or the card was already replaced.
 */
/** What a person's actions on a case need: texting, the bank's name and number, the actions queue. */
export interface CaseActions extends AdvocateTexting {
  publishAction(action: CardReplaceAction | CardBlockAction, jobId: string): Promise<void>;
}

/**
 * The advocate blocks the case's cards (the customer said on the phone it was not them): every
 * card of the case, the same request under the same keys a NO by text makes, so the card system
 * is asked once whichever comes first. A repeat (a retry, or after the NO) asks again under the
 * same job id, which changes nothing, and says so (`repeated`).
 */
export async function blockCards(
  deps: CaseActions & { now: Date },
  b: { kase: { id: string; status: string }; customerId: string; reason: string; by: string },
): Promise<{ action: CardBlockAction; repeated: boolean }> {
  if (b.kase.status !== "open")
    throw new ConflictError("the case is resolved: block the card from a new case");
  const cards = await caseCards(deps.sql, b.kase.id);
  if (cards.length === 0)
    throw new ValidationError("no card", [{ path: "type", message: "this case is about no card" }]);
  const action: CardBlockAction = {
    type: "card.block",
    caseId: b.kase.id,
    customerId: b.customerId,
    cards,
    reason: b.reason,
  };
  const recorded = await addTimeline(
    deps.sql,
    b.kase.id,
    "action.card_block",
    `action:${b.kase.id}`,
    { cards: cards.map((c) => `••${c.last4}`), reason: b.reason },
    { actor: b.by, at: deps.now },
  );
  await deps.publishAction(action, `card-block-${b.kase.id}`);
  return { action, repeated: !recorded };
}

export async function replaceCard(
  deps: CaseActions & { now: Date },
  r: {
    kase: { id: string; outcome: string | null; advocate: { name: string } | null };
    customer: Customer;
    cardId?: string | undefined;
    deliverTo: DeliverTo;
    by: string;
  },
): Promise<{ action: CardReplaceAction; texted: boolean; repeated: boolean }> {
  const { sql } = deps;
  if (r.kase.outcome !== "confirmed_fraud")
    throw new ConflictError("a card is replaced on a confirmed-fraud case only");
  const cards = await caseCards(sql, r.kase.id);
  const card = r.cardId ? cards.find((c) => c.id === r.cardId) : cards.length === 1 ? cards[0] : undefined;
  if (!card)
    throw new ValidationError("which card", [
      {
        path: "cardId",
        message:
          cards.length === 0
            ? "this case is about no card"
            : `one of ${cards.map((c) => `${c.id} (ending ${c.last4})`).join(", ")}`,
      },
    ]);
  const zone = r.customer.timezone ?? zoneAt({ country: r.customer.homeCountry }) ?? "UTC";
  const lang = r.customer.language;
  const due = addWorkingDays(deps.now, zone, workingDaysFor(r.deliverTo));
  const action: CardReplaceAction = {
    type: "card.replace",
    caseId: r.kase.id,
    customerId: r.customer.id,
    card,
    deliverTo: r.deliverTo,
    requestedBy: r.by,
    arrivesBy: due.toISODate() ?? "",
  };
  const where = deliveryInWords(r.deliverTo, r.customer.home?.city ?? null, lang);
  // Nothing a thief could use goes in a text: a town or branch name with a link in it is refused.
  const wordsIssue = advocateTextIssues(where, deps.bank.phone).find((i) => i !== "empty");
  if (wordsIssue) throw new ValidationError("where", [{ path: "deliverTo", message: wordsIssue }]);
  // The same request again (a retry after a failure half-way) finishes what the first began;
  // a different one for a card already being replaced is refused.
  const request = createHash("sha256").update(JSON.stringify(r.deliverTo)).digest("hex").slice(0, 16);
  const key = `replace:${r.kase.id}:${card.id}`;
  const recorded = await addTimeline(
    sql,
    r.kase.id,
    "action.card_replace",
    key,
    {
      card: { id: card.id, last4: card.last4 },
      deliverTo: r.deliverTo.kind,
      request,
      reason: `new card to ${where}, due by ${action.arrivesBy}`,
    },
    { actor: r.by, at: deps.now },
  );
  if (!recorded) {
    const [first] = await sql`select detail from case_timeline where idem_key = ${key}`;
    if ((first?.detail as { request?: string } | undefined)?.request !== request)
      throw new ConflictError(`card ending ${card.last4} is already being replaced on this case`);
  }
  await deps.publishAction(action, `replace-${r.kase.id}-${card.id}`);
  if (r.customer.optedOutAt) return { action, texted: false, repeated: !recorded };
  const { text: body } = renderMessage("card_replacement", lang, {
    bankName: deps.bank.name,
    bankPhone: deps.bank.phone,
    advocateName: r.kase.advocate?.name ?? deps.bank.name,
    last4: card.last4,
    deliverTo: where,
    arrivesBy: due.setLocale(lang === "fr" ? "fr" : "en-GB").toFormat("ccc d LLL"),
  });
  const stored = await claimOutbound(sql, {
    caseId: r.kase.id,
    customerId: r.customer.id,
    kind: "card_replacement",
    body,
    to: r.customer.phone,
    from: deps.from,
    transport: deps.transport,
    idemKey: key,
    author: r.by,
  });
  await deps.owe({ type: "advocate", key }, `advocate-${stored.message.id}`);
  return { action, texted: true, repeated: !recorded };
}
