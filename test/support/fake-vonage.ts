/**
 * A fake of Vonage's Messages and Voice APIs at the HTTP boundary, for tests: the real SDK is
 * pointed at it through apiHost/restHost. `POST /v1/messages` needs an Authorization header (Basic
 * or Bearer), takes Vonage's snake_case body (SMS text; WhatsApp text, template or custom) and
 * answers 202 `{ message_uuid }`. `POST /v1/calls` needs the application's JWT (Bearer) and answers
 * 201 `{ uuid, status: "started", direction, conversation_uuid }`; `PUT /v1/calls/:uuid` (a
 * transfer, hangup, ...) answers 204. It records what arrives and can be told to fail (any status,
 * body and headers) or stall, whichever endpoint is asked next.
 */
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { signVonageWebhook } from "../../engine/outreach/signature.ts";

export interface FakeMessage {
  to: string;
  from: string;
  /** The text of a `text` message; "" for a WhatsApp template or custom message. */
  text: string;
  clientRef?: string;
  /** `sms` or `whatsapp`. */
  channel: string;
  /** `text`, or for WhatsApp `template` or `custom`. */
  messageType: string;
  /**
   * A WhatsApp template as it arrived: from a `template` message its `template` (`name`,
   * `parameters`) and `whatsapp` (`policy`, `locale`) parts; from a `custom` one, `custom.template`.
   */
  template?: FakeTemplate;
  /** A `custom` message's `custom` object, untouched. */
  custom?: Record<string, unknown>;
  messageUuid: string;
  authorization: string;
  /** When it arrived (Date.now()). */
  at: number;
}

export interface FakeTemplate {
  name: string;
  /** `template.parameters` of a `template` message, `components` of a custom one. */
  parameters?: unknown[];
  locale?: string;
  policy?: string;
}

/** A call asked for with `POST /v1/calls`. */
export interface FakeCall {
  uuid: string;
  conversationUuid: string;
  /** The first `to` endpoint's number (digits, as Vonage wants them). */
  to: string;
  from?: string;
  /** The inline NCCO, exactly as sent (camelCase keys: the SDK leaves it untouched). */
  ncco?: unknown[];
  eventUrl?: string[];
  answerUrl?: string[];
  /** `machine_detection` (`continue` | `hangup`). */
  machineDetection?: string;
  /** `advanced_machine_detection` (`behavior`, `mode`, `beep_timeout`). */
  advancedMachineDetection?: Record<string, unknown>;
  /** The whole request body, parsed. */
  body: Record<string, unknown>;
  authorization: string;
  /** The bearer token's claims (application_id, iat, jti, exp...). */
  claims: Record<string, unknown>;
  at: number;
}

/** A `PUT /v1/calls/:uuid`: a transfer (with its NCCO or URL), or hangup, mute and the like. */
export interface FakeCallUpdate {
  uuid: string;
  action: string;
  /** For `transfer` to an NCCO: the NCCO as sent. */
  ncco?: unknown[];
  /** For `transfer` to a URL. */
  url?: string[];
  /** Whether the call was one asked for on this fake (Vonage would answer 404 for others). */
  known: boolean;
  body: Record<string, unknown>;
  authorization: string;
  at: number;
}

export interface FakeVonage {
  url: string;
  /** Every message, SMS and WhatsApp: filter on `channel`. */
  messages: FakeMessage[];
  calls: FakeCall[];
  /** Every `PUT /v1/calls/:uuid`, transfers included. */
  transfers: FakeCallUpdate[];
  /** The next `times` requests answer `status` (with an optional JSON body) instead of 202. */
  failNext(status: number, times?: number, body?: object, headers?: Record<string, string>): void;
  /** The next `times` requests hang for `ms` before answering (to trip the client's timeout). */
  stallNext(ms: number, times?: number): void;
  /** Requests that reached one of the fake's endpoints, failed or not. */
  attempts: number;
  close(): Promise<void>;
}

export async function startFakeVonage(): Promise<FakeVonage> {
  const messages: FakeMessage[] = [];
  const calls: FakeCall[] = [];
  const transfers: FakeCallUpdate[] = [];
  const failures: Array<{ status: number; body?: object; headers?: Record<string, string> }> = [];
  const stalls: number[] = [];
  let attempts = 0;

  const read = (req: IncomingMessage) =>
    new Promise<string>((ok) => {
      let s = "";
      req.on("data", (d) => {
        s += d;
      });
      req.on("end", () => ok(s));
    });

  const json = (res: ServerResponse, status: number, body?: object) => {
    if (body === undefined) res.writeHead(status).end();
    else res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
  };
  const invalid = (res: ServerResponse, detail: string) =>
    json(res, 422, { title: "Invalid params", detail });

  /** The Voice API takes only the application's JWT; its claims, or undefined when there is none. */
  const bearerClaims = (auth: string): Record<string, unknown> | undefined => {
    const token = auth.match(/^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/);
    if (!token) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(token[2] ?? "", "base64url").toString("utf8"));
      return typeof claims === "object" && claims && typeof claims.application_id === "string"
        ? claims
        : undefined;
    } catch {
      return undefined;
    }
  };

  function message(res: ServerResponse, m: Record<string, unknown>, auth: string) {
    const to = String(m.to ?? "");
    const type = String(m.message_type ?? "");
    if (!/^\d{6,15}$/.test(to)) return invalid(res, "bad to/channel");
    const base = {
      to,
      from: String(m.from ?? ""),
      channel: String(m.channel),
      messageType: type,
      messageUuid: randomUUID(),
      authorization: auth,
      at: Date.now(),
      ...(typeof m.client_ref === "string" && m.client_ref ? { clientRef: m.client_ref } : {}),
    };
    if (m.channel === "sms") {
      if (type !== "text") return invalid(res, "bad to/channel");
      messages.push({ ...base, text: String(m.text) });
    } else if (m.channel === "whatsapp") {
      if (type === "text") {
        if (typeof m.text !== "string" || m.text === "") return invalid(res, "text is required");
        messages.push({ ...base, text: m.text });
      } else if (type === "template") {
        const t = m.template as { name?: unknown; parameters?: unknown[] } | undefined;
        const wa = m.whatsapp as { policy?: string; locale?: string } | undefined;
        if (typeof t?.name !== "string" || !wa?.locale)
          return invalid(res, "template.name and whatsapp.locale are required");
        const template: FakeTemplate = {
          name: t.name,
          ...(t.parameters ? { parameters: t.parameters } : {}),
          locale: wa.locale,
          ...(wa.policy ? { policy: wa.policy } : {}),
        };
        messages.push({ ...base, text: "", template });
      } else if (type === "custom") {
        const custom = m.custom as Record<string, unknown> | undefined;
        if (!custom || typeof custom !== "object") return invalid(res, "custom is required");
        const t = custom.template as
          | { name?: unknown; language?: { code?: string; policy?: string }; components?: unknown[] }
          | undefined;
        const template: FakeTemplate | undefined =
          custom.type === "template" && typeof t?.name === "string"
            ? {
                name: t.name,
                ...(t.components ? { parameters: t.components } : {}),
                ...(t.language?.code ? { locale: t.language.code } : {}),
                ...(t.language?.policy ? { policy: t.language.policy } : {}),
              }
            : undefined;
        messages.push({ ...base, text: "", custom, ...(template ? { template } : {}) });
      } else return invalid(res, `message_type ${type} is not taken by this fake`);
    } else return invalid(res, "bad to/channel");
    json(res, 202, { message_uuid: base.messageUuid });
  }

  function call(
    res: ServerResponse,
    b: Record<string, unknown>,
    auth: string,
    claims: Record<string, unknown>,
  ) {
    const to = Array.isArray(b.to) ? (b.to[0] as { type?: string; number?: string } | undefined) : undefined;
    const hasNcco = Array.isArray(b.ncco) && b.ncco.length > 0;
    if (to?.type !== "phone" || !/^\d{6,15}$/.test(to.number ?? ""))
      return json(res, 400, { title: "Bad Request", detail: "to must be one phone endpoint, digits only" });
    if (!hasNcco && !Array.isArray(b.answer_url))
      return json(res, 400, { title: "Bad Request", detail: "ncco or answer_url is required" });
    const uuid = randomUUID();
    const conversationUuid = `CON-${randomUUID()}`;
    const from = (b.from as { number?: string } | undefined)?.number;
    calls.push({
      uuid,
      conversationUuid,
      to: to.number ?? "",
      ...(from ? { from } : {}),
      ...(hasNcco ? { ncco: b.ncco as unknown[] } : {}),
      ...(Array.isArray(b.event_url) ? { eventUrl: b.event_url as string[] } : {}),
      ...(Array.isArray(b.answer_url) ? { answerUrl: b.answer_url as string[] } : {}),
      ...(typeof b.machine_detection === "string" ? { machineDetection: b.machine_detection } : {}),
      ...(b.advanced_machine_detection
        ? { advancedMachineDetection: b.advanced_machine_detection as Record<string, unknown> }
        : {}),
      body: b,
      authorization: auth,
      claims,
      at: Date.now(),
    });
    json(res, 201, { uuid, status: "started", direction: "outbound", conversation_uuid: conversationUuid });
  }

  function update(res: ServerResponse, uuid: string, b: Record<string, unknown>, auth: string) {
    const action = String(b.action ?? "");
    if (!["transfer", "hangup", "mute", "unmute", "earmuff", "unearmuff"].includes(action))
      return json(res, 400, { title: "Bad Request", detail: "unknown action" });
    const destination = b.destination as { type?: string; ncco?: unknown[]; url?: string[] } | undefined;
    if (action === "transfer" && !Array.isArray(destination?.ncco) && !Array.isArray(destination?.url))
      return json(res, 400, { title: "Bad Request", detail: "a transfer needs destination.ncco or .url" });
    transfers.push({
      uuid,
      action,
      ...(Array.isArray(destination?.ncco) ? { ncco: destination.ncco } : {}),
      ...(Array.isArray(destination?.url) ? { url: destination.url } : {}),
      known: calls.some((c) => c.uuid === uuid),
      body: b,
      authorization: auth,
      at: Date.now(),
    });
    json(res, 204);
  }

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const raw = await read(req);
    const path = (req.url ?? "").split("?")[0] ?? "";
    const callUuid = path.match(/^\/v1\/calls\/([^/]+)$/)?.[1];
    const route =
      req.method === "POST" && path === "/v1/messages"
        ? "message"
        : req.method === "POST" && path === "/v1/calls"
          ? "call"
          : req.method === "PUT" && callUuid
            ? "update"
            : undefined;
    if (!route) {
      res.writeHead(404).end();
      return;
    }
    attempts++;
    const auth = req.headers.authorization ?? "";
    const claims = bearerClaims(auth);
    if (route === "message" ? !/^(Basic|Bearer) \S+/.test(auth) : !claims) {
      json(res, 401, { title: "Unauthorized" });
      return;
    }
    const stall = stalls.shift();
    if (stall) await new Promise((r) => setTimeout(r, stall));
    const failure = failures.shift();
    if (failure) {
      res.writeHead(failure.status, { "content-type": "application/json", ...failure.headers });
      res.end(JSON.stringify(failure.body ?? { title: `fake failure ${failure.status}` }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw);
      if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error("not an object");
    } catch {
      json(res, 400, { title: "Bad Request", detail: "body is not JSON" });
      return;
    }
    if (route === "message") message(res, body, auth);
    else if (route === "call") call(res, body, auth, claims ?? {});
    else update(res, decodeURIComponent(callUuid ?? ""), body, auth);
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    calls,
    transfers,
    get attempts() {
      return attempts;
    },
    failNext(status, times = 1, body, headers) {
      for (let i = 0; i < times; i++)
        failures.push({ status, ...(body ? { body } : {}), ...(headers ? { headers } : {}) });
    },
    stallNext(ms, times = 1) {
      for (let i = 0; i < times; i++) stalls.push(ms);
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}

/** Anything with Hono's in-process `request`: the app under test. */
type InProcessApp = { request(path: string, init: RequestInit): Response | Promise<Response> };

/**
 * POSTs `body` (an object, sent as JSON, or the raw text) to `path` signed as Vonage signs a
 * webhook: `Authorization: Bearer` JWT, HS256 with the signature secret, `payload_hash` the
 * SHA-256 of the exact bytes sent.
 */
export async function signedPost(
  app: InProcessApp,
  secret: string,
  path: string,
  body: unknown,
): Promise<Response> {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const authorization = await signVonageWebhook({ rawBody: raw, secret, now: new Date() });
  return app.request(path, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: raw,
  });
}

/**
 * GETs `pathWithQuery` signed as Vonage signs a webhook with no body (the Voice API's default
 * answer webhook): the token's `payload_hash` is the SHA-256 of the empty body.
 */
export async function signedGet(app: InProcessApp, secret: string, pathWithQuery: string): Promise<Response> {
  const authorization = await signVonageWebhook({ rawBody: "", secret, now: new Date() });
  return app.request(pathWithQuery, { method: "GET", headers: { authorization } });
}

/**
 * The customer texts `text` from `from` (E.164 without the +, as Vonage sends numbers): an inbound
 * Messages API webhook, signed as Vonage signs it, posted to the app in-process.
 */
export async function customerTexts(
  app: InProcessApp,
  secret: string,
  from: string,
  text: string,
): Promise<Response> {
  return signedPost(app, secret, "/webhooks/vonage/inbound", {
    channel: "sms",
    message_uuid: `in-${randomUUID()}`,
    to: "TPBank",
    from,
    timestamp: new Date().toISOString(),
    text,
    message_type: "text",
    sms: { num_messages: "1" },
  });
}

/**
 * The customer answers `text` on WhatsApp from `from` (digits, no +): the Messages API's inbound
 * webhook for WhatsApp (`channel: "whatsapp"`, `profile.name`, `context_status`; `to` is the
 * bank's WhatsApp number), signed as Vonage signs it, posted to the app in-process.
 */
export async function customerWhatsApps(
  app: InProcessApp,
  secret: string,
  from: string,
  text: string,
  opts: { to?: string; profileName?: string } = {},
): Promise<Response> {
  return signedPost(app, secret, "/webhooks/vonage/inbound", {
    to: opts.to ?? "447700900000",
    from,
    channel: "whatsapp",
    message_uuid: randomUUID(),
    timestamp: new Date().toISOString(),
    message_type: "text",
    text,
    context_status: "none",
    profile: { name: opts.profileName ?? "Sophie Martin" },
  });
}

let applicationKey: string | undefined;

/** A throwaway RSA private key (PEM) for a Vonage application's JWT in tests; one per process. */
export function testApplicationKey(): string {
  applicationKey ??= generateKeyPairSync("rsa", { modulusLength: 2048 })
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString();
  return applicationKey;
}

/** The configuration that points touchpoint's real Vonage SDK at `fake`, its webhooks signed with `secret`. */
export function vonageEnv(fake: FakeVonage, secret: string): Record<string, string> {
  return {
    VONAGE_API_KEY: "test-key",
    VONAGE_API_SECRET: "test-secret",
    VONAGE_API_HOST: fake.url,
    VONAGE_REST_HOST: fake.url,
    VONAGE_SIGNATURE_SECRET: secret,
    VONAGE_FROM: "TPBank",
  };
}
