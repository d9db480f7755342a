/**
 * The voice side of a case: who a call is put through to (the case's named advocate when they
 * can take it, else the team's line), the NCCO answering a keypad press or a customer calling
 * the bank, and what a call's events do to the case. The NCCOs are answered at once (Vonage
 * waits on them); the case's changes go through the `replies` queue as owed work, like a text's.
 */
import { PermanentError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { maskPhone } from "../log.ts";
import type { Sql } from "../store/database.ts";
import { casesForPhone } from "../store/lookup.ts";
import { applyCallStatus, bindCallUuid, getMessageByProviderId, recordInbound } from "../store/messages.ts";
import { getAdvocate } from "../store/people.ts";
import { addTimeline } from "../store/timeline.ts";
import type { VoiceTransport } from "./channels/voice.ts";
import { caseContext, keypadUrl, templateVars } from "./contact.ts";
import { applyAnswer, type ConversationDeps } from "./conversation.ts";
import {
  type CallEvent,
  callbackNcco,
  checkCallNcco,
  connectNcco,
  type Endpoint,
  endpointFor,
  goodbyeNcco,
  type Keypad,
  machineNcco,
  type Ncco,
  noInputNcco,
  voiceText,
} from "./ncco.ts";

export interface VoiceSetup {
  /** The bank's name and number, as the calls say them. */
  bank: { name: string; phone: string };
  /** The number calls come from and are put through as (E.164, one of the application's). */
  from: string;
  publicUrl: string;
  /** TEAM_LINES: team → endpoint, `*` for any other team. */
  teamLines: ReadonlyMap<string, string>;
}

/** A keypad press or an inbound call, for the `replies` queue. */
export type CallJob =
  | {
      kind: "keypad";
      caseId: string;
      uuid: string;
      attempt: 1 | 2;
      digits: string;
      answer: Keypad["kind"];
      /** Who the call was put through to, in words, for the timeline. */
      connectedTo?: string;
    }
  /** `messageId`: the call's row, from the event URL touchpoint gave the call. */
  | { kind: "call"; event: CallEvent; messageId?: string };

/** Where a connect to the named advocate asks what next when they do not answer. */
function fallbackUrl(setup: VoiceSetup, caseId: string): string | undefined {
  return setup.publicUrl
    ? `${setup.publicUrl}/webhooks/vonage/voice/fallback?case=${encodeURIComponent(caseId)}`
    : undefined;
}

/** A connect to `target`; to the advocate, one that falls back to the team's line if they do not answer. */
function connectTo(
  setup: VoiceSetup,
  caseId: string,
  target: { endpoint: Endpoint; toAdvocate: boolean },
  language: string,
  message: string,
): Ncco {
  const fallback = target.toAdvocate ? fallbackUrl(setup, caseId) : undefined;
  return connectNcco({
    language,
    endpoint: target.endpoint,
    from: setup.from,
    message,
    ...(fallback ? { eventUrl: fallback, synchronous: true } : {}),
  });
}

/**
 * The advocate was put through to and did not answer (busy, no answer, rejected, failed): the
 * team's line takes the call, or the caller hears that the bank will call back and the case gets
 * a call task. Any other state of the connected leg needs no new NCCO (undefined).
 */
export async function advocateDidNotAnswer(
  sql: Sql,
  setup: VoiceSetup,
  k: { caseId: string; uuid: string; status: string; conversationUuid: string },
): Promise<Ncco | undefined> {
  if (!["busy", "timeout", "unanswered", "rejected", "failed", "cancelled"].includes(k.status))
    return undefined;
  // The URL names the case, unsigned: the leg must belong to a call of that case, by the
  // conversation the call was put through from (recorded when it was).
  const [ours] = await sql`
    select 1 from messages where case_id = ${k.caseId} and channel = 'voice'
      and details->>'conversationUuid' = ${k.conversationUuid} limit 1`;
  if (!ours || !k.conversationUuid) return undefined;
  const [c] =
    await sql`select c.team, cu.language from cases c join customers cu on cu.id = c.customer_id where c.id = ${k.caseId}`;
  if (!c) return undefined;
  const language = c.language as string;
  const team = c.team as string;
  const vars = {
    bankName: setup.bank.name,
    bankPhone: setup.bank.phone,
    advocateName: `the ${setup.bank.name} fraud team`,
  };
  const line = setup.teamLines.get(team) ?? setup.teamLines.get("*");
  await addTimeline(sql, k.caseId, "call.connected", `fallback:${k.uuid}:${k.status}`, {
    channel: "voice",
    reason: line
      ? `the advocate did not answer (${k.status}): put through to team ${team}'s line`
      : `the advocate did not answer (${k.status}) and no team line is configured: the customer was told we will call back`,
  });
  if (line)
    return connectNcco({
      language,
      endpoint: endpointFor(line),
      from: setup.from,
      message: voiceText("connect_team", language, vars),
    });
  await addTimeline(sql, k.caseId, "task.call_customer", `call:fallback:${k.uuid}`, {
    reason: "call the customer back: they were put through to their advocate, who did not answer",
  });
  return callbackNcco({ language, ...vars });
}

/** Who takes a call about a case: its advocate when online with a phone, else the team's line. */
export async function callTarget(
  sql: Sql,
  caseId: string,
  teamLines: ReadonlyMap<string, string>,
): Promise<{ endpoint?: Endpoint; who: string; advocateName: string | null; toAdvocate: boolean }> {
  const [c] = await sql`select advocate_id, team from cases where id = ${caseId}`;
  const advocate = c?.advocate_id ? await getAdvocate(sql, c.advocate_id as string) : undefined;
  if (advocate?.status === "online" && advocate.phone)
    return {
      endpoint: endpointFor(advocate.phone),
      who: advocate.name,
      advocateName: advocate.name,
      toAdvocate: true,
    };
  const line = (c && teamLines.get(c.team as string)) ?? teamLines.get("*");
  const why = advocate
    ? `${advocate.name} is ${advocate.status === "online" ? "online but has no phone on file" : advocate.status}`
    : "nobody has the case";
  if (line)
    return {
      endpoint: endpointFor(line),
      who: `team ${c?.team ?? "line"} (${why})`,
      advocateName: advocate?.name ?? null,
      toAdvocate: false,
    };
  return {
    who: `nobody: ${why}, and no team line is configured (TEAM_LINES)`,
    advocateName: advocate?.name ?? null,
    toAdvocate: false,
  };
}

/**
 * The NCCO answering a keypad press on the automated call, and the job recording it. 1: it was
 * them (thanks, goodbye); 2: it was not (the card is blocked, and the call goes to the advocate);
 * 0: put through without deciding; nothing or a wrong key: ask once more, then say goodbye.
 */
export async function keypadReply(
  sql: Sql,
  setup: VoiceSetup,
  k: { caseId: string; attempt: 1 | 2; keypad: Keypad; messageId?: string | undefined },
): Promise<{ ncco: Ncco; job?: CallJob }> {
  // Vonage signs the body (the call's uuid), not the URL (the case): the case is the one this
  // call was placed for, by its own row, whatever the URL says. A keypad request that names
  // another case, or a call we never placed, moves nothing and says nothing about anyone.
  const call =
    (await getMessageByProviderId(sql, k.keypad.uuid)) ??
    (k.messageId ? await bindCallUuid(sql, k.messageId, k.keypad.uuid) : undefined);
  if (!call || call.kind !== "check_call" || call.channel !== "voice" || call.caseId !== k.caseId)
    return {
      ncco: callbackNcco({
        language: "en",
        bankName: setup.bank.name,
        bankPhone: setup.bank.phone,
        advocateName: `the ${setup.bank.name} fraud team`,
      }),
    };
  const ctx = await caseContext(sql, k.caseId);
  const language = ctx?.customer.language ?? "en";
  const job = (connectedTo?: string): CallJob => ({
    kind: "keypad",
    caseId: k.caseId,
    uuid: k.keypad.uuid,
    attempt: k.attempt,
    digits: k.keypad.digits,
    answer: k.keypad.kind,
    ...(connectedTo ? { connectedTo } : {}),
  });
  if (!ctx) return { ncco: noInputNcco({ language, bankPhone: setup.bank.phone }) };
  const vars = templateVars(ctx, setup.bank);
  // "It was me" on a case already confirmed as fraud is not "nothing more to do": a person.
  const keyed = k.keypad.kind === "yes" && ctx.outcome === "confirmed_fraud" ? "agent" : k.keypad.kind;
  switch (keyed) {
    case "yes":
      return { ncco: goodbyeNcco({ language, advocateName: vars.advocateName }), job: job() };
    case "no":
    case "agent": {
      const target = await callTarget(sql, k.caseId, setup.teamLines);
      // "We have blocked your card" only when this answer blocks it (or a NO already did): not on
      // a case settled as a false alarm meanwhile. Only the advocate is named as the one they are
      // put through to; a team line is "our fraud team".
      const blocks =
        k.keypad.kind === "no" &&
        ctx.outcome !== "false_alarm" &&
        (ctx.status === "open" || ctx.outcome === "confirmed_fraud");
      const kind = blocks ? "connect_not_me" : target.toAdvocate ? "connect_agent" : "connect_team";
      if (!target.endpoint) {
        // Nobody can take it now: the answer still counts, and the advocate calls back.
        return {
          ncco: callbackNcco({ language, ...vars }),
          job: job(target.who),
        };
      }
      const message = voiceText(kind, language, {
        ...vars,
        advocateName:
          target.toAdvocate && target.advocateName
            ? target.advocateName
            : `the ${setup.bank.name} fraud team`,
      });
      // The conversation this call is put through from: its fallback is taken only for it.
      if (k.keypad.conversationUuid)
        await sql`
          update messages set details = coalesce(details, '{}'::jsonb) || ${sql.json({ conversationUuid: k.keypad.conversationUuid })}
          where id = ${call.id}`;
      return {
        ncco: connectTo(
          setup,
          k.caseId,
          { endpoint: target.endpoint, toAdvocate: target.toAdvocate },
          language,
          message,
        ),
        job: job(target.who),
      };
    }
    default:
      if (k.attempt === 1)
        return {
          ncco: checkCallNcco({
            language,
            vars,
            inputUrl: keypadUrl(setup.publicUrl, k.caseId, 2, call.id),
            attempt: 2,
            heard: k.keypad.kind === "none" ? "none" : "other",
          }),
        };
      return { ncco: noInputNcco({ language, bankPhone: setup.bank.phone }), job: job() };
  }
}

/**
 * A customer calling the bank's number: with an open (or latest) case, put through to the
 * person who knows it, saying nothing about the case before a person has them; the case pops on
 * the desk (`call.received`, as `POST /v1/calls`). No case: the team's line.
 */
export async function answerInboundCall(
  sql: Sql,
  setup: VoiceSetup,
  log: Logger,
  call: { from: string; to: string; uuid: string; now: Date; conversationUuid?: string | undefined },
): Promise<Ncco> {
  const [caseId] = await casesForPhone(sql, call.from);
  const [cust] = caseId ? await sql`select customer_id, team from cases where id = ${caseId}` : [];
  const language = cust
    ? (((await sql`select language from customers where id = ${cust.customer_id}`)[0]?.language as string) ??
      "en")
    : "en";
  const vars = { bankName: setup.bank.name, bankPhone: setup.bank.phone, advocateName: "" };
  const target = caseId
    ? await callTarget(sql, caseId, setup.teamLines)
    : (() => {
        const line = setup.teamLines.get("*");
        return line
          ? { endpoint: endpointFor(line), who: "the team's line", advocateName: null, toAdvocate: false }
          : { who: "nobody: no team line is configured (TEAM_LINES)", advocateName: null, toAdvocate: false };
      })();
  if (caseId && cust) {
    const pushedTo = target.toAdvocate ? "advocate" : "team";
    await recordInbound(sql, {
      providerId: call.uuid,
      caseId,
      customerId: cust.customer_id as string,
      body: "called the bank",
      from: call.from,
      to: call.to,
      kind: "call.inbound",
      channel: "voice",
      ...(call.conversationUuid ? { details: { conversationUuid: call.conversationUuid } } : {}),
    });
    await addTimeline(
      sql,
      caseId,
      "call.received",
      `call:${caseId}:${call.uuid}`,
      {
        reason: `the customer is calling (${maskPhone(call.from)}); put through to ${target.who}`,
        pushedTo,
        channel: "voice",
      },
      { at: call.now },
    );
    if (!target.endpoint)
      await addTimeline(sql, caseId, "task.call_customer", `call:missed:${call.uuid}`, {
        reason: "call the customer: they called the bank and nobody could take the call",
      });
  } else {
    log.info(
      { from: maskPhone(call.from) },
      "a call from a number with no case: put through to the team's line",
    );
  }
  if (!target.endpoint)
    return callbackNcco({ language, ...vars, advocateName: target.advocateName ?? setup.bank.name });
  const message = voiceText("connect_caller", language, vars);
  return caseId
    ? connectTo(
        setup,
        caseId,
        { endpoint: target.endpoint, toAdvocate: target.toAdvocate },
        language,
        message,
      )
    : connectNcco({ language, endpoint: target.endpoint, from: setup.from, message });
}

export interface CallDeps extends ConversationDeps {
  voice?: { transport: VoiceTransport; bank: { name: string; phone: string } };
}

/** A keypad press, recorded on the case's conversation and acted on as YES / NO would be. */
export async function handleKeypad(deps: CallDeps, k: Extract<CallJob, { kind: "keypad" }>): Promise<string> {
  const { sql } = deps;
  const [c] = await sql`select customer_id from cases where id = ${k.caseId}`;
  if (!c) return "case not found";
  const customerId = c.customer_id as string;
  const said = {
    yes: "1: it was me",
    no: "2: it was not me",
    agent: "0: talk to someone",
    none: "no key",
    other: `${k.digits}: not a choice`,
  }[k.answer];
  const ref = `key:${k.uuid}:${k.attempt}`;
  // An answer (1, 2, or 0 for a person) is the customer's word on the conversation; no key is
  // not, and must not stop the strategy as a reply would.
  if (k.answer === "yes" || k.answer === "no" || k.answer === "agent")
    await recordInbound(sql, {
      providerId: ref,
      caseId: k.caseId,
      customerId,
      body: `pressed ${said}`,
      from: "keypad",
      to: "touchpoint",
      kind: k.answer === "yes" || k.answer === "no" ? `reply.${k.answer}` : "reply.keypad",
      channel: "voice",
      details: { digits: k.digits, attempt: k.attempt, callUuid: k.uuid },
    });
  await addTimeline(sql, k.caseId, "call.keypad", `keypad:${ref}`, {
    digits: k.digits,
    reason: `keypad ${said}${k.connectedTo ? `; put through to ${k.connectedTo}` : ""}`,
    channel: "voice",
  });
  if (k.connectedTo && !k.connectedTo.startsWith("nobody")) {
    await addTimeline(sql, k.caseId, "call.connected", `connected:${ref}`, {
      reason: `the customer is on the line, put through to ${k.connectedTo}`,
      channel: "voice",
    });
    // They asked for a person and may not have reached one (the line rang out, they hung up):
    // a task until someone logs the call or notes it.
    if (k.answer === "agent")
      await addTimeline(sql, k.caseId, "task.call_customer", `call:keypad:${ref}`, {
        reason: `call the customer if the call put through to ${k.connectedTo} did not reach you: they pressed 0 to talk to someone`,
      });
  } else if (k.connectedTo)
    await addTimeline(sql, k.caseId, "task.call_customer", `call:keypad:${ref}`, {
      reason: `call the customer: they asked for a person on the automated call and ${k.connectedTo}`,
    });
  if (k.answer === "yes" || k.answer === "no")
    return applyAnswer(deps, {
      caseId: k.caseId,
      customerId,
      answer: k.answer,
      ref,
      text: said,
      via: "keypad",
    });
  if (k.answer === "none" || k.answer === "other") await nextStepNow(deps, k.uuid, "no key pressed, twice");
  return k.answer;
}

/** An automated call that got no answer hands over to the strategy's next step at once. */
async function nextStepNow(deps: CallDeps, uuid: string, why: string): Promise<void> {
  const call = await getMessageByProviderId(deps.sql, uuid);
  const d = call?.details as { stage?: number; askedAt?: string } | null | undefined;
  if (!call?.caseId || d?.stage === undefined || !d.askedAt) return;
  await addTimeline(deps.sql, call.caseId, "contact.step", `step:${call.caseId}:call-over`, {
    action: "next",
    reason: `the automated call ended without an answer (${why}): the next step now`,
  });
  await deps.outreach(
    { type: "no-reply", caseId: call.caseId, askedAt: d.askedAt, stage: d.stage },
    `noreply-${call.caseId}-${d.stage}-now`,
  );
}

const UNANSWERED = new Set(["busy", "cancelled", "unanswered", "rejected", "failed", "timeout"]);

/** A call's state from Vonage: on the case's timeline; a machine gets the short message; no answer moves the strategy on. */
export async function handleCallEvent(deps: CallDeps, e: CallEvent, messageId?: string): Promise<string> {
  if (!e.known) return "not a call state";
  const call = await applyCallStatus(
    deps.sql,
    e.uuid,
    e.status,
    {
      ...(e.durationSeconds !== undefined ? { durationSeconds: e.durationSeconds } : {}),
      ...(e.detail ? { detail: e.detail } : {}),
      [`at_${e.status}`]: e.timestamp ?? deps.now().toISOString(),
    },
    messageId,
  );
  if (!call?.caseId) return "unknown call";
  const reason =
    e.status === "completed"
      ? `call ended after ${e.durationSeconds ?? 0} s`
      : e.status === "machine"
        ? "an answering machine: leaving the bank's number only, no payment details"
        : `call ${e.status}${e.detail ? ` (${e.detail})` : ""}`;
  await addTimeline(
    deps.sql,
    call.caseId,
    "call.status",
    `callstatus:${e.uuid}:${e.status}${e.subState ? `:${e.subState}` : ""}`,
    {
      messageId: call.id,
      status: e.status,
      channel: "voice",
      ...(e.durationSeconds !== undefined ? { durationSeconds: e.durationSeconds } : {}),
      reason,
    },
  );
  if (call.kind !== "check_call") return e.status;
  if (e.status === "machine" && deps.voice) {
    const [cust] = await deps.sql`select language from customers where id = ${call.customerId}`;
    try {
      await deps.voice.transport.transfer(
        e.uuid,
        machineNcco({
          language: (cust?.language as string) ?? "en",
          bankName: deps.voice.bank.name,
          bankPhone: deps.voice.bank.phone,
        }),
      );
    } catch (err) {
      // Only a call that already ended (Vonage's 404: a permanent refusal) has nothing left to
      // hear; any passing failure is retried, or the voicemail would hear the payment's details.
      if (!(err instanceof PermanentError)) throw err;
      deps.log.info({ err: err.message }, "machine message not transferred: the call is over");
    }
    await nextStepNow(deps, e.uuid, "an answering machine took it");
    return "machine";
  }
  if (UNANSWERED.has(e.status)) await nextStepNow(deps, e.uuid, e.status);
  if (e.status === "completed") {
    // Answered and hung up without a key: no answer either.
    const [k] =
      await deps.sql`select 1 from messages where case_id = ${call.caseId} and channel = 'voice' and direction = 'inbound' and details->>'callUuid' = ${e.uuid} and kind in ('reply.yes', 'reply.no', 'reply.keypad') limit 1`;
    if (!k) await nextStepNow(deps, e.uuid, "hung up without a key");
  }
  return e.status;
}
