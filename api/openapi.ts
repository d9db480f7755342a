/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
import { z } from "zod";
import { callBody } from "../engine/cases/call-log.ts";
import { eventSchema } from "../engine/events.ts";
import { cannedReplyBody } from "../engine/outreach/canned-replies.ts";
import { advocateInput, customerInput } from "../engine/people.ts";
import { ruleFileSchema, rulesetSchema } from "../engine/rules/schema.ts";
import { patchListBody, putListBody } from "./routes/lists.ts";
import { inboundSchema, statusSchema } from "./webhooks/vonage.ts";

const schema = (s: z.ZodType) =>
  z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "draft-2020-12" });

const errorSchema = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message"],
      properties: {
        code: { type: "string" },
        message: { type: "string" },
        issues: {
          type: "array",
          items: { type: "object", properties: { path: { type: "string" }, message: { type: "string" } } },
        },
      },
    },
  },
};

const json = (ref: string) => ({
  content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } },
});
const errors = {
  "400": { description: "invalid input: field paths and reasons", ...json("Error") },
  "401": { description: "missing or unknown bearer token", ...json("Error") },
  "403": { description: "the token's role may not do this", ...json("Error") },
};
const bearer = [{ bearer: [] }];

export function openApiDocument(): object {
  return {
    openapi: "3.1.0",
    info: {
      title: "touchpoint",
      version: "0.1.0",
      description: "Rules-driven fraud and proactive-contact engine.",
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer" },
        vonageSignedWebhook: { type: "http", scheme: "bearer", bearerFormat: "JWT (HS256, payload_hash)" },
      },
      schemas: {
        Error: errorSchema,
        Event: schema(eventSchema),
        CustomerInput: schema(customerInput),
        AdvocateInput: schema(advocateInput),
        CallLog: schema(callBody),
        CannedReply: schema(cannedReplyBody),
        Ruleset: schema(rulesetSchema),
        RuleFile: schema(ruleFileSchema),
        ListPut: schema(putListBody),
        ListPatch: schema(patchListBody),
        VonageInbound: schema(inboundSchema),
        VonageStatus: schema(statusSchema),
      },
    },
    paths: {
      "/v1/events": {
        post: {
          summary:
            "Ingest events (JSON array, one object, or NDJSON); each validated on its own; duplicates by id dropped",
          security: bearer,
          requestBody: {
            content: {
              "application/json": {
                schema: {
                  oneOf: [
                    { type: "array", items: { $ref: "#/components/schemas/Event" } },
                    { $ref: "#/components/schemas/Event" },
                  ],
                },
              },
              "application/x-ndjson": { schema: { type: "string" } },
            },
          },
          responses: {
            "202": {
              description:
                "accepted / duplicates / rejected counts; per rejected event its index and field errors",
              content: {
                "application/json": {
                  schema: {
                    type: "object",
                    properties: {
                      accepted: { type: "integer" },
                      duplicates: { type: "integer" },
                      rejected: { type: "integer" },
                      errors: { type: "array" },
                    },
                  },
                },
              },
            },
            "413": { description: "body over INGEST_MAX_BYTES", ...json("Error") },
            "503": { description: "queue unavailable; nothing was accepted", ...json("Error") },
            ...errors,
          },
        },
      },
      "/v1/customers/{id}": {
        put: {
          summary: "Create or update a customer (phone stored as E.164)",
          security: bearer,
          requestBody: json("CustomerInput"),
          responses: { "200": { description: "the customer" }, ...errors },
        },
        get: {
          summary: "A customer",
          security: bearer,
          responses: { "200": { description: "the customer" }, "404": { description: "not found" } },
        },
      },
      "/v1/advocates/{id}": {
        put: {
          summary: "Create or update an advocate; going online picks up waiting cases",
          security: bearer,
          requestBody: json("AdvocateInput"),
          responses: { "200": { description: "the advocate" }, ...errors },
        },
      },
      "/v1/cases": {
        get: {
          summary: "Cases, newest first; an advocate sees only their team's",
          security: bearer,
          parameters: ["customerId", "status", "advocateId", "limit"].map((name) => ({
            name,
            in: "query",
            schema: { type: "string" },
          })),
          responses: { "200": { description: "{ items: [...] }" }, ...errors },
        },
      },
      "/v1/cases/{id}": {
        get: {
          summary:
            "A case with advocate, customer, decisions (each with its story and summary sentence), messages with their authors, the customer's recent activity, timeline and earlier cases",
          security: bearer,
          responses: {
            "200": { description: "the case" },
            "404": { description: "not found (or another team's)" },
          },
        },
      },
      "/v1/cases/{id}/resolve": {
        post: {
          summary: "Resolve as confirmed_fraud or false_alarm",
          security: bearer,
          responses: { "200": { description: "the case" }, ...errors },
        },
      },
      "/v1/cases/{id}/messages": {
        post: {
          summary:
            "The advocate's own text to the customer, `{ text }` (at most 612 characters; no links, no card numbers, no phone number but the bank's own): stored as pending and sent through Vonage or the outbox. Role advocate (own team) or supervisor; 409 after the customer replied STOP. An `Idempotency-Key` header makes a retry the same text.",
          security: bearer,
          responses: {
            "202": { description: "{ id, caseId, body, status, transport, createdAt }: queued" },
            "200": { description: "the same text, already queued under this Idempotency-Key" },
            "409": { description: "the customer replied STOP" },
            "422": {
              description:
                "the text may not go (issues at `text` say why), or the Idempotency-Key was used for another text",
              ...json("Error"),
            },
            ...errors,
          },
        },
      },
      "/v1/cases/{id}/actions": {
        post: {
          summary:
            '`{ type: "card.replace", cardId?, deliverTo: { kind: "home" } | { kind: "address", line1, line2?, city, postcode, country } | { kind: "branch", branch } }` on a confirmed-fraud case: a card.replace job on queue `actions` for the card system, the request on the timeline, and a text to the customer naming only the town or branch and the date. Once per card per case (409 after). Or `{ type: "card.block", cardId?, reason }` on an open case: the same card.block request a NO by text makes, once per case.',
          security: bearer,
          responses: {
            "202": { description: "{ action, texted }" },
            "409": { description: "not confirmed fraud, or already replaced" },
            ...errors,
          },
        },
      },
      "/v1/cases/{id}/claim": {
        post: {
          summary:
            "An advocate takes an unassigned case of their team for themselves (online, under capacity); 409 with the reason otherwise",
          security: bearer,
          responses: { "200": { description: "the case" }, "409": { description: "why not" }, ...errors },
        },
      },
      "/v1/cases/{id}/handoff": {
        post: {
          summary:
            "`{ to, note }`: the advocate holding the case (or a supervisor) hands it to a colleague of the team who is online with capacity; the note is what the colleague reads first (`handOff` on the case)",
          security: bearer,
          responses: { "200": { description: "the case" }, "409": { description: "why not" }, ...errors },
        },
      },
      "/v1/cases/{id}/reassign": {
        post: {
          summary:
            "`{ to, note? }`: a supervisor gives the case to an advocate of its team (online, with capacity)",
          security: bearer,
          responses: { "200": { description: "the case" }, "409": { description: "why not" }, ...errors },
        },
      },
      "/v1/advocates/{id}/status": {
        put: {
          summary:
            "`{ status: online | away | offline }`: an advocate sets their own, a supervisor their team's; back online, waiting cases are assigned",
          security: bearer,
          responses: { "200": { description: "the advocate" }, ...errors },
        },
      },
      "/v1/cases/{id}/notes": {
        post: {
          summary: "`{ text }` onto the timeline. An `Idempotency-Key` header makes a retry the same note.",
          security: bearer,
          responses: {
            "200": { description: "the case" },
            "422": { description: "the Idempotency-Key was used for another note", ...json("Error") },
            ...errors,
          },
        },
      },
      "/v1/cases/{id}/calls": {
        post: {
          summary:
            "`{ outcome: reached | no_answer | left_message, note? }`: a call the advocate made, onto the timeline as `call.logged`; `reached` and `left_message` answer the call task before it, so the case no longer needs them until a new task; `no_answer` leaves it needing them. An `Idempotency-Key` header makes a retry the same call.",
          security: bearer,
          requestBody: json("CallLog"),
          responses: {
            "201": { description: "the case, with the call logged" },
            "200": { description: "the case; this Idempotency-Key had logged this call already" },
            "422": { description: "the Idempotency-Key was used for another call", ...json("Error") },
            ...errors,
          },
        },
      },
      "/v1/canned-replies": {
        get: {
          summary:
            "The bank's canned replies (advocate, supervisor), by language then title; `?language=en` for one language's",
          security: bearer,
          parameters: [{ name: "language", in: "query", schema: { type: "string", pattern: "^[a-z]{2}$" } }],
          responses: {
            "200": { description: "{ items: [{ id, title, language, text, updatedBy, updatedAt }] }" },
            ...errors,
          },
        },
      },
      "/v1/canned-replies/{id}": {
        get: {
          summary: "One canned reply (advocate, supervisor)",
          security: bearer,
          responses: {
            "200": { description: "the reply" },
            "404": { description: "no such reply", ...json("Error") },
            ...errors,
          },
        },
        put: {
          summary:
            "A canned reply in, new or changed (supervisor). Its text is checked as an advocate's text is: blank or invisible only, over 612 characters, a link, a card number or a phone number but the bank's own is a 422 naming `text`.",
          security: bearer,
          requestBody: json("CannedReply"),
          responses: {
            "201": { description: "the reply, new" },
            "200": { description: "the reply, changed" },
            "422": { description: "the text could never be sent to a customer", ...json("Error") },
            ...errors,
          },
        },
        delete: {
          summary: "A canned reply out (supervisor)",
          security: bearer,
          responses: {
            "204": { description: "removed" },
            "404": { description: "no such reply", ...json("Error") },
            ...errors,
          },
        },
      },
      "/v1/calls": {
        post: {
          summary:
            "`{ from, to?, callId? }` from the telephony system (role ingest or supervisor): records that the customer is calling on their open (or latest) case and pushes it to their advocate's desk, or to the team's when the advocate is not online. A repeated callId is recorded once.",
          security: bearer,
          responses: {
            "200": { description: "{ caseId, pushedTo: advocate | team, advocate }, or caseId null" },
            ...errors,
          },
        },
      },
      "/v1/cases/{id}/answers": {
        post: {
          summary:
            "`{ answer: yes | no, answerId? }` from the bank's app backend (role ingest): the customer's answer to a question asked in the app; applied as a YES / NO text is (NO confirms fraud and blocks the card, YES resolves a false alarm), once per answerId (else Idempotency-Key)",
          security: bearer,
          responses: {
            "202": { description: "{ caseId, answer, answerId, status: accepted, caseStatus }" },
            "404": { description: "no such case" },
            ...errors,
          },
        },
      },
      "/v1/contact-strategy": {
        get: {
          summary:
            "The contact strategy in force per severity (steps: message, reminder, voice, task, each `afterMinutes` after the previous without an answer) and the channels this deployment can use",
          security: bearer,
          responses: { "200": { description: "{ strategy: { high, medium, low }, channels }" }, ...errors },
        },
      },
      "/v1/tokens": {
        post: {
          summary: "Make a bearer token for a role (admin only); shown once",
          security: bearer,
          responses: { "201": { description: "{ id, token, role }" }, ...errors },
        },
      },
      "/v1/tokens/{id}": {
        delete: {
          summary: "Revoke a token (admin only): its desk sessions end, and their open pages stop at once",
          security: bearer,
          responses: {
            "204": { description: "revoked" },
            "404": { description: "no live token by that id" },
            ...errors,
          },
        },
      },
      "/v1/rules": {
        get: {
          summary: "The published rules: name, mode (live or shadow), owner, severity, team, test count",
          security: bearer,
          responses: { "200": { description: "{ version, items }" } },
        },
      },
      "/v1/rules/{name}/figures": {
        get: {
          summary: "A rule's figures per rule version and mode, published now or not",
          description:
            "`{ rule, items: [{ ruleVersion, mode, hits, customers, confirmed, falseAlarms, precision, overlapWithLive, firstHitAt, lastHitAt }] }`, oldest first. A rule version is the ruleset version its file took that form in (a move from shadow to live starts one), so a shadow rule's would-have figures stay after it goes live. Live hits are labelled by their case's outcome (per case), shadow hits by the customer's case opened within a day (per customer).",
          security: bearer,
          responses: { "200": { description: "{ rule, items }" } },
        },
      },
      "/v1/rules/{name}/hits": {
        get: {
          summary: "A rule's individual hits, newest first: a shadow rule's would-have hits by default",
          description:
            "`?mode=shadow|live` (default shadow), `?limit=` (1–500, default 50). Each `{ eventId, customerId, mode, rulesetVersion, decidedAt, occurredAt, amount, merchant, place, summary, alsoLive, caseId, outcome (confirmed_fraud | false_alarm | open | none) }`.",
          security: bearer,
          responses: { "200": { description: "{ rule, mode, items }" }, ...errors },
        },
      },
      "/v1/rules/{name}": {
        get: {
          summary: "One published rule file",
          security: bearer,
          responses: {
            "200": { description: "{ version, rule, tests }" },
            "404": { description: "no such rule" },
          },
        },
        put: {
          summary: "Add or replace one rule file; publishes a version with every other rule unchanged",
          description:
            "Body: a rule file `{ rule, tests }`, with an optional `note` (why; recorded on the version). The rule's name must be the address's. Its `team` must be one some advocate is in (400, with a did-you-mean), and its own tests must pass (422 naming each failing case). The same file again makes no version (200, `unchanged: true`).",
          security: bearer,
          requestBody: json("RuleFile"),
          responses: {
            "201": { description: "{ version, unchanged: false, from, diff }" },
            "200": { description: "{ version, unchanged: true } — nothing changed" },
            "422": {
              description:
                "the file's own tests fail, or it names a list (`inList` / `notInList`) that does not exist (with a did-you-mean): each in `error.issues`",
              ...json("Error"),
            },
            ...errors,
          },
        },
        delete: {
          summary: "Publish a version without one rule (`?note=` says why)",
          security: bearer,
          responses: {
            "201": { description: "{ version, from, diff }" },
            "404": { description: "no such rule" },
            "409": { description: "it is the only rule" },
          },
        },
      },
      "/v1/lists": {
        get: {
          summary: "Every named list: name, size, version, updatedBy, updatedAt (risk, supervisor)",
          security: bearer,
          responses: {
            "200": { description: "{ items: [{ name, size, version, updatedBy, updatedAt }] }" },
            ...errors,
          },
        },
      },
      "/v1/lists/{name}": {
        get: {
          summary:
            "A list: its items (sorted), version, the published rules that use it, its latest 50 changes",
          description:
            "`history`: newest first, each `{ version, kind: put | patch | delete, added, removed (the first 1,000 of each), addedCount, removedCount, size, at, by }`.",
          security: bearer,
          responses: {
            "200": { description: "{ name, size, version, updatedBy, updatedAt, items, usedBy, history }" },
            "404": { description: "no such list", ...json("Error") },
            ...errors,
          },
        },
        put: {
          summary: "Replace a list's items, making the list if it is new (risk)",
          description:
            "The name: lower-case letters, digits and single dashes, at most 64 characters. Items are trimmed, blank ones dropped, duplicates collapsed; at most 100,000 items of at most 200 characters. The body is JSON `{ items }`, or `text/csv` (the first column of every record, RFC 4180 quoting; `text/csv; header=present` skips a header record), or `text/plain` (one item a line); at most 8 MiB. Each change is a new version of the list and an audit entry, never a ruleset version; workers use it from the next batch they evaluate. The same items again make no version (`unchanged: true`).",
          security: bearer,
          requestBody: {
            content: {
              "application/json": { schema: { $ref: "#/components/schemas/ListPut" } },
              "text/csv": { schema: { type: "string" } },
              "text/plain": { schema: { type: "string" } },
            },
          },
          responses: {
            "201": { description: "made: { name, version, size, unchanged, created: true, added, removed }" },
            "200": {
              description:
                "replaced (or unchanged): { name, version, size, unchanged, created, added, removed }",
            },
            "413": { description: "body over 8 MiB", ...json("Error") },
            ...errors,
          },
        },
        patch: {
          summary: "Add and remove items of a list that exists (risk)",
          description:
            "`{ add?, remove? }`, at least one item; items normalised as for PUT; an item in both is refused. A list that does not exist is a 404 (PATCH changes a list; PUT makes one), as is a name no list has.",
          security: bearer,
          requestBody: json("ListPatch"),
          responses: {
            "200": { description: "{ name, version, size, unchanged, created: false, added, removed }" },
            "404": { description: "no such list: PUT makes it", ...json("Error") },
            ...errors,
          },
        },
        delete: {
          summary: "Delete a list no published rule uses (risk)",
          security: bearer,
          responses: {
            "200": { description: "{ name, version, deleted: true }" },
            "404": { description: "no such list", ...json("Error") },
            "409": { description: "published rules use it: `error.rules` names them", ...json("Error") },
            ...errors,
          },
        },
      },
      "/v1/experience": {
        get: {
          summary: "The experience figures of a window, for a team or all (supervisor, risk)",
          description:
            "Query `since`, `until` (ISO 8601; the 7 days to now unless given; at most a year) and `team` (one an advocate is in). Answers the report of engine/experience/report.ts: `cases`, `timeToFirstContact` and `timeToFirstAnswer` (seconds from the suspicious event's arrival: count, p50, p90, p99; deferrals by quiet hours), `resolvedByCustomer`, `contactsPerCase`, `customersWithEvents`, `perRule` (customers contacted for a false alarm, per 1,000 customers with events, beside precision), `sameAdvocate`, `timeToResolution`, `waitingOnBank`, `optOutsAfterContact`, `feedback` (by team, advocate and rule) and `days`.",
          security: bearer,
          parameters: [
            { name: "since", in: "query", schema: { type: "string", format: "date-time" } },
            { name: "until", in: "query", schema: { type: "string", format: "date-time" } },
            { name: "team", in: "query", schema: { type: "string" } },
          ],
          responses: { "200": { description: "the ExperienceReport" }, ...errors },
        },
      },
      "/v1/facts": {
        get: {
          summary: "Every fact a rule can use: name, kind, unit, nullability, meaning",
          security: bearer,
          responses: { "200": { description: "{ items }" } },
        },
      },
      "/v1/rulesets": {
        get: {
          summary: "Every ruleset version, newest first, with who published it and why",
          security: bearer,
          responses: {
            "200": { description: "{ items: [{ version, note, createdBy, publishedAt, rules, shadow }] }" },
          },
        },
        post: {
          summary: "Publish a whole ruleset: `{ rules: [rule files], remove?: [names], note? }`",
          description:
            "Each entry of `rules` is a rule file `{ rule, tests }` (a bare rule is taken too). A publish that would drop rules of the current version is refused with 409 naming them (`error.rules`) unless they are listed in `remove`; one whose new or changed files fail their own tests with 422; a team no advocate is in with 400. An identical ruleset makes no version (200, `unchanged: true`). Without a note, the version records what changed.",
          security: bearer,
          requestBody: json("Ruleset"),
          responses: {
            "201": { description: "{ version, unchanged: false, from, diff, rules }" },
            "200": { description: "{ version, unchanged: true }" },
            "409": { description: "would drop rules not listed in remove", ...json("Error") },
            "422": { description: "a new or changed file's own tests fail", ...json("Error") },
            ...errors,
          },
        },
      },
      "/v1/rulesets/diff": {
        post: {
          summary: "What a publish of this body would add, change (path by path) and remove",
          security: bearer,
          requestBody: json("Ruleset"),
          responses: {
            "200": { description: "{ from, diff: { added, changed, removed, unchanged }, refused? }" },
          },
        },
      },
      "/v1/rulesets/{version}": {
        get: {
          summary: "One stored version: its rule files, note, who and when",
          security: bearer,
          responses: { "200": { description: "{ version, files, note, createdBy, publishedAt }" } },
        },
      },
      "/v1/rulesets/{version}/diff": {
        get: {
          summary: "What a version changed against the one before it (or `?against=N`)",
          security: bearer,
          responses: { "200": { description: "{ version, against, diff }" } },
        },
      },
      "/v1/rulesets/{version}/rollback": {
        post: {
          summary: "Publish an earlier version again, as a new version",
          security: bearer,
          responses: {
            "201": { description: "{ version, rolledBackTo, diff }" },
            "404": { description: "no such version" },
          },
        },
      },
      "/v1/rulesets/current": {
        get: {
          summary: "The published version",
          security: bearer,
          responses: { "200": { description: "{ version, files, ruleset, note, createdBy, publishedAt }" } },
        },
      },
      "/v1/rulesets/validate": {
        post: {
          summary:
            "Validate without publishing: every problem at once, with its rule, JSON path and a did-you-mean",
          security: bearer,
          requestBody: json("Ruleset"),
          responses: {
            "200": { description: "valid" },
            "422": {
              description: "well formed, but names lists that do not exist (each with a did-you-mean)",
              ...json("Error"),
            },
            ...errors,
          },
        },
      },
      "/v1/rulesets/test": {
        post: {
          summary: "Run rule files' own test cases (and optional whole-ruleset `cases`); failures say why",
          description:
            "`{ rules?: [rule files], cases?: [{ name, facts, fires: [rule names] }] }`. Without `rules`, the published files' own cases run. Each result: `{ rule, test, expected, fired, pass, reasons }`, where `reasons` names each condition that went the wrong way with the fact's value.",
          security: bearer,
          responses: { "200": { description: "{ passed, failed, results }" }, ...errors },
        },
      },
      "/v1/rulesets/stats": {
        get: {
          summary:
            "Per rule, since `?since=`: hits, customers, confirmed, false alarms, precision; shadow rules' would-have figures",
          security: bearer,
          responses: { "200": { description: "{ items }" } },
        },
      },
      "/v1/backtests": {
        get: {
          summary: "The latest backtests",
          security: bearer,
          responses: { "200": { description: "{ items }" } },
        },
        post: {
          summary:
            "Queue a backtest: a stored window (`from`, `to`) or an uploaded stream (`events`, `labels`)",
          description:
            "`{ rules?: [rule files], remove?: [names], from, to, maxEvents?, listed? }` or `{ rules?, remove?, events: [events], labels?: { customerId: confirmed_fraud | false_alarm }, listed? }`; `listed` (default 50, at most 500) is how many matched events the report lists per rule and per change. The candidate is the published version with `rules` added or replacing its rules of the same name and `remove` left out. Runs on queue `backtests` in scratch state; never touches cases, texts or live state.",
          security: bearer,
          responses: {
            "202": { description: "{ id, status, progress }; Location: /v1/backtests/{id}" },
            ...errors,
          },
        },
      },
      "/v1/backtests/{id}": {
        get: {
          summary: "A backtest's progress (done, total, ETA) and, once done, its report",
          description:
            "Report: per rule of each side `{ rule, mode, change (added | changed | unchanged | removed), hits, hitRate, customers, confirmed, falseAlarms, precision, overlap, matched }`, where `matched` is `{ count, listed: [{ id, type, customerId, occurredAt, amount { value, currency } | null, home { value, currency } | null (the customer's home currency), merchant, place { city, country }, outcome (confirmed_fraud | false_alarm | open | none), caseId }], money: [{ currency, payments, total, confirmedFraud, falseAlarms, open }] (one per home currency), unconverted }` (the first `listedPerRule` events in event time; counts and sums over all; on the published side an unchanged rule lists none, its candidate twin lists them); `changes.newlyFlagged` / `changes.noLongerFlagged`: the events the candidate's live rules flag and the published ones do not (and the reverse), as `matched` plus `rules: { eventId: [rule] }`; `neverHit`, `newlyFlagged`, `noLongerFlagged` (customers), `labelledCustomers`, `listedPerRule`.",
          security: bearer,
          responses: {
            "200": { description: "{ id, status, progress, report?, error? }" },
            "404": { description: "no such backtest" },
          },
        },
      },
      "/webhooks/vonage/inbound": {
        post: {
          summary: "Vonage Messages API inbound SMS (signed)",
          security: [{ vonageSignedWebhook: [] }],
          requestBody: json("VonageInbound"),
          responses: {
            "200": { description: "queued" },
            "401": { description: "bad signature, hash or age" },
          },
        },
      },
      "/webhooks/vonage/status": {
        post: {
          summary: "Vonage Messages API status (signed)",
          security: [{ vonageSignedWebhook: [] }],
          requestBody: json("VonageStatus"),
          responses: {
            "200": { description: "queued" },
            "401": { description: "bad signature, hash or age" },
          },
        },
      },
      "/webhooks/vonage/voice/answer": {
        get: {
          summary:
            "Vonage Voice answer URL for a call to the bank's number (signed; query from, to, uuid): an NCCO putting the caller through to their case's named advocate (online, with a phone), else the team's line (TEAM_LINES); the case pops on the desk",
          security: [{ vonageSignedWebhook: [] }],
          responses: { "200": { description: "an NCCO" }, "401": { description: "bad signature" } },
        },
        post: {
          summary: "The same, for an application whose answer URL is set to POST (JSON body)",
          security: [{ vonageSignedWebhook: [] }],
          responses: { "200": { description: "an NCCO" }, "401": { description: "bad signature" } },
        },
      },
      "/webhooks/vonage/voice/input": {
        post: {
          summary:
            "Keypad answer of the automated call (the NCCO input action's eventUrl; query case, attempt; signed): 1 it was me (resolves a false alarm), 2 it was not me (confirms fraud, blocks the card, puts the customer through to their advocate), 0 a person; nothing: asked once more, then the strategy moves on",
          security: [{ vonageSignedWebhook: [] }],
          responses: { "200": { description: "the next NCCO" }, "401": { description: "bad signature" } },
        },
      },
      "/webhooks/vonage/voice/fallback": {
        post: {
          summary:
            "The connect to a named advocate reports its leg here (eventType synchronous; query case; signed): when the advocate does not answer (busy, timeout, unanswered, rejected, failed), the answer is the next NCCO, the team's line (or a call-back message and a call task); 204 for any other state",
          security: [{ vonageSignedWebhook: [] }],
          responses: {
            "200": { description: "the next NCCO" },
            "204": { description: "nothing to change" },
            "401": { description: "bad signature" },
          },
        },
      },
      "/webhooks/vonage/voice/event": {
        post: {
          summary:
            "Vonage Voice call states (signed): ringing, answered, machine, completed, busy, unanswered, failed… on the case's timeline; an answering machine gets the bank's number only; an unanswered call moves the strategy on",
          security: [{ vonageSignedWebhook: [] }],
          responses: { "200": { description: "queued" }, "401": { description: "bad signature" } },
        },
      },
      "/healthz": { get: { summary: "Liveness", responses: { "200": { description: "ok" } } } },
      "/readyz": {
        get: {
          summary: "Postgres, Redis and workers up",
          description:
            "`{ ready, checks: { postgres, redis, pending, workers? }, oldestPendingSeconds: { events, decisions, jobs }, reasons? }`: `pending` fails when the oldest pending work is older than READY_MAX_PENDING_AGE_MS; when not ready, `reasons` says what each failing check answered (e.g. `unavailable (ECONNREFUSED)`, never hosts or users). Each check waits at most 2 s.",
          responses: { "200": { description: "ready" }, "503": { description: "not ready, with reasons" } },
        },
      },
      "/metrics": {
        get: {
          summary: "Prometheus metrics",
          responses: { "200": { description: "text exposition format" } },
        },
      },
    },
  };
}
