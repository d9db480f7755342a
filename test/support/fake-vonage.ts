/**
 * A fake of Vonage's Messages API at the HTTP boundary, for tests: the real SDK is pointed at it
 * through apiHost/restHost. `POST /v1/messages` needs an Authorization header (Basic or Bearer),
 * takes Vonage's snake_case body and answers 202 `{ message_uuid }`; it records what arrives and
 * can be told to fail (any status, body and headers) or stall.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { signVonageWebhook } from "../../engine/outreach/signature.ts";

export interface FakeMessage {
  to: string;
  from: string;
  text: string;
  clientRef?: string;
  channel: string;
  messageUuid: string;
  authorization: string;
  /** When it arrived (Date.now()). */
  at: number;
}

export interface FakeVonage {
  url: string;
  messages: FakeMessage[];
  /** The next `times` requests answer `status` (with an optional JSON body) instead of 202. */
  failNext(status: number, times?: number, body?: object, headers?: Record<string, string>): void;
  /** The next `times` requests hang for `ms` before answering (to trip the client's timeout). */
  stallNext(ms: number, times?: number): void;
  /** Requests that reached the server, failed or not. */
  attempts: number;
  close(): Promise<void>;
}

export async function startFakeVonage(): Promise<FakeVonage> {
  const messages: FakeMessage[] = [];
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

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await read(req);
    if (req.method !== "POST" || req.url !== "/v1/messages") {
      res.writeHead(404).end();
      return;
    }
    attempts++;
    const auth = req.headers.authorization ?? "";
    if (!/^(Basic|Bearer) \S+/.test(auth)) {
      res
        .writeHead(401, { "content-type": "application/json" })
        .end(JSON.stringify({ title: "Unauthorized" }));
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
    let m: {
      to: string;
      from: string;
      text: string;
      client_ref?: string;
      channel: string;
      message_type: string;
    };
    try {
      m = JSON.parse(body);
    } catch {
      res
        .writeHead(400, { "content-type": "application/json" })
        .end(JSON.stringify({ title: "Bad Request", detail: "body is not JSON" }));
      return;
    }
    if (m.channel !== "sms" || m.message_type !== "text" || !/^\d{6,15}$/.test(m.to)) {
      res
        .writeHead(422, { "content-type": "application/json" })
        .end(JSON.stringify({ title: "Invalid params", detail: "bad to/channel" }));
      return;
    }
    const messageUuid = randomUUID();
    messages.push({
      to: m.to,
      from: m.from,
      text: m.text,
      channel: m.channel,
      messageUuid,
      authorization: auth,
      at: Date.now(),
      ...(m.client_ref ? { clientRef: m.client_ref } : {}),
    });
    res
      .writeHead(202, { "content-type": "application/json" })
      .end(JSON.stringify({ message_uuid: messageUuid }));
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    messages,
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

/**
 * The customer texts `text` from `from` (E.164 without the +, as Vonage sends numbers): an inbound
 * Messages API webhook, signed as Vonage signs it, posted to the app in-process.
 */
export async function customerTexts(
  app: { request(path: string, init: RequestInit): Response | Promise<Response> },
  secret: string,
  from: string,
  text: string,
): Promise<Response> {
  const raw = JSON.stringify({
    channel: "sms",
    message_uuid: `in-${randomUUID()}`,
    to: "TPBank",
    from,
    timestamp: new Date().toISOString(),
    text,
    message_type: "text",
    sms: { num_messages: "1" },
  });
  const authorization = await signVonageWebhook({ rawBody: raw, secret, now: new Date() });
  return app.request("/webhooks/vonage/inbound", {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: raw,
  });
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
