/** The OpenAPI 3.1 document, generated from the same zod schemas that validate requests. */
import { z } from "zod";
import { eventSchema } from "../engine/events.ts";
import { advocateInput, customerInput } from "../engine/people.ts";
import { rulesetSchema } from "../engine/rules/schema.ts";
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
        Ruleset: schema(rulesetSchema),
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
          summary: "A case with advocate, customer, decisions, messages, timeline and earlier cases",
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
      "/v1/cases/{id}/notes": {
        post: {
          summary: "Add a note to the timeline",
          security: bearer,
          responses: { "200": { description: "the case" }, ...errors },
        },
      },
      "/v1/tokens": {
        post: {
          summary: "Make a bearer token for a role (admin only); shown once",
          security: bearer,
          responses: { "201": { description: "{ id, token, role }" }, ...errors },
        },
      },
      "/v1/rulesets": {
        get: {
          summary: "Every ruleset version, newest first",
          security: bearer,
          responses: { "200": { description: "{ items }" } },
        },
        post: {
          summary: "Validate and publish a ruleset as a new version",
          security: bearer,
          requestBody: json("Ruleset"),
          responses: { "201": { description: "{ version, rules }" }, ...errors },
        },
      },
      "/v1/rulesets/{version}/rollback": {
        post: {
          summary: "Publish an earlier version again",
          security: bearer,
          responses: {
            "201": { description: "{ version, rolledBackTo }" },
            "404": { description: "no such version" },
          },
        },
      },
      "/v1/rulesets/backtest": {
        post: {
          summary:
            "Replay stored events of a window through a draft and the published ruleset, scored by case outcomes",
          security: bearer,
          responses: {
            "200": { description: "{ events, candidate, published, newlyFlagged, noLongerFlagged }" },
            ...errors,
          },
        },
      },
      "/v1/rulesets/current": {
        get: {
          summary: "The published ruleset",
          security: bearer,
          responses: { "200": { description: "{ version, ruleset }" } },
        },
      },
      "/v1/rulesets/validate": {
        post: {
          summary: "Validate without publishing",
          security: bearer,
          requestBody: json("Ruleset"),
          responses: { "200": { description: "valid" }, ...errors },
        },
      },
      "/v1/rulesets/test": {
        post: {
          summary: "Run test cases (facts → expected rules) against a ruleset",
          security: bearer,
          responses: { "200": { description: "results" }, ...errors },
        },
      },
      "/v1/rulesets/stats": {
        get: {
          summary: "Per rule: hits, confirmed, false alarms, precision",
          security: bearer,
          responses: { "200": { description: "{ items }" } },
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
