/**
 * Canned replies on the desk: the buttons under the case page's reply box, and the page where
 * supervisors keep them (the same checks and audit as `/v1/canned-replies`).
 *
 * A button is a GET form's submit (`?canned=<id>`): without a script the case page comes back with
 * the reply in the box, to edit and send; with the desk's script (live.js) it goes into the box
 * where the caret is, and nothing else on the page moves. Either way nothing is sent until the
 * advocate presses Send: a canned reply is a start, not an answer chosen for them.
 */
import { Hono } from "hono";
import { z } from "zod";
import { type FieldIssue, ValidationError } from "../../engine/errors.ts";
import { cannedReplyBody, cannedReplyId, checkedCannedReply } from "../../engine/outreach/canned-replies.ts";
import { audit } from "../../engine/store/audit.ts";
import {
  type CannedReply,
  deleteCannedReply,
  getCannedReply,
  listCannedReplies,
  putCannedReply,
} from "../../engine/store/canned-replies.ts";
import type { Sql } from "../../engine/store/database.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import { toIssues } from "../errors.ts";
import { page, When } from "./layout.tsx";
import type { DeskEnv } from "./session.tsx";
import { whoOf } from "./words.tsx";

/** The case's canned replies in its customer's language, as buttons that fill the reply box. */
export function CannedButtons({
  caseId,
  language,
  replies,
}: {
  caseId: string;
  language: string;
  replies: readonly CannedReply[];
}) {
  if (replies.length === 0) return null;
  return (
    <form class="canned" method="get" action={`/desk/cases/${caseId}#reply-text`}>
      <p class="muted small" id="canned-label">
        Canned replies ({language}): one click puts it in the box, to edit and send.
      </p>
      {replies.map((r) => (
        <button type="submit" name="canned" value={r.id} data-text={r.text} aria-describedby="canned-label">
          {r.title}
        </button>
      ))}
    </form>
  );
}

const mayManage = (p: Principal) => p.role === "supervisor" || p.role === "admin";

const fields = z.strictObject({ id: cannedReplyId }).extend(cannedReplyBody.shape);

function ManagePage({
  replies,
  form = {},
  issues = [],
  saved,
}: {
  replies: readonly CannedReply[];
  form?: Partial<Record<"id" | "title" | "language" | "text", string>>;
  issues?: readonly FieldIssue[];
  saved?: string | undefined;
}) {
  const issueOf = (f: string) => issues.filter((i) => i.path === f).map((i) => i.message);
  const said = (f: string) => {
    const m = issueOf(f);
    return m.length > 0 ? (
      <p class="warn" id={`${f}-issue`}>
        {m.join("; ")}
      </p>
    ) : null;
  };
  const described = (f: string) => (issueOf(f).length > 0 ? `${f}-issue` : undefined);
  return (
    <div>
      <h1>Canned replies</h1>
      <p class="muted">
        The bank's own short answers, per language. Advocates see those in their customer's language under the
        reply box; a click puts one in the box to edit and send. Each is checked as an advocate's text is: no
        links, no card or phone numbers but the bank's own.
      </p>
      {saved ? (
        <p class="ok" role="status">
          Saved {saved}.
        </p>
      ) : null}
      <div class="card" id="canned-list">
        <h2>Replies</h2>
        {replies.length === 0 ? <p class="muted">None yet.</p> : null}
        <ul class="canned-list">
          {replies.map((r) => (
            <li>
              <b>{r.title}</b> <span class="pill">{r.language}</span> <code>{r.id}</code>
              <div class="body">{r.text}</div>
              <div class="muted small">
                changed <When at={r.updatedAt} /> by {r.updatedBy} ·{" "}
                <a href={`/desk/canned-replies?edit=${encodeURIComponent(r.id)}#canned-form`}>Change</a>{" "}
                <form class="inline" method="post" action={`/desk/canned-replies/${r.id}/delete`}>
                  <button type="submit" aria-label={`Remove ${r.title} (${r.language})`}>
                    Remove
                  </button>
                </form>
              </div>
            </li>
          ))}
        </ul>
      </div>
      <div class="card" id="canned-form">
        <h2>Add or change a reply</h2>
        {issues.length > 0 ? (
          <p class="warn" role="alert">
            Not saved: see below.
          </p>
        ) : null}
        <form method="post" action="/desk/canned-replies">
          <label for="canned-id">Id (a reply with this id is replaced)</label>
          <input
            type="text"
            id="canned-id"
            name="id"
            value={form.id ?? ""}
            required
            maxlength={64}
            placeholder="card-on-its-way"
            aria-describedby={described("id")}
          />
          {said("id")}
          <label for="canned-title">Title (what the button says)</label>
          <input
            type="text"
            id="canned-title"
            name="title"
            value={form.title ?? ""}
            required
            maxlength={60}
            aria-describedby={described("title")}
          />
          {said("title")}
          <label for="canned-language">Language (two letters: en, fr…)</label>
          <input
            type="text"
            id="canned-language"
            name="language"
            value={form.language ?? "en"}
            required
            maxlength={2}
            aria-describedby={described("language")}
          />
          {said("language")}
          <label for="canned-text">Text</label>
          <textarea
            id="canned-text"
            name="text"
            rows={3}
            maxlength={612}
            required
            aria-describedby={described("text")}
          >
            {form.text ?? ""}
          </textarea>
          {said("text")}
          <p>
            <button class="primary" type="submit">
              Save reply
            </button>
          </p>
        </form>
      </div>
    </div>
  );
}

export function cannedReplyPages(sql: Sql, bankPhone: string) {
  const app = new Hono<DeskEnv>();
  const forbidden = (p: Principal) =>
    page("Not allowed", <p>Only supervisors keep the canned replies.</p>, whoOf(p), p.role);

  app.get("/", async (c) => {
    const p = c.get("principal");
    if (!mayManage(p)) return c.html(forbidden(p), 403);
    const edit = c.req.query("edit");
    const editing = edit ? await getCannedReply(sql, edit) : undefined;
    const replies = await listCannedReplies(sql);
    return c.html(
      page(
        "Canned replies",
        <ManagePage
          replies={replies}
          form={editing ?? {}}
          // Named only when it is one of ours: the page never echoes text from its address.
          saved={replies.find((r) => r.id === c.req.query("saved"))?.title}
        />,
        whoOf(p),
        p.role,
      ),
    );
  });

  app.post("/", async (c) => {
    const p = c.get("principal");
    if (!mayManage(p)) return c.html(forbidden(p), 403);
    const body = await c.req.parseBody();
    const form = Object.fromEntries(
      (["id", "title", "language", "text"] as const).map((k) => [
        k,
        typeof body[k] === "string" ? (body[k] as string).trim() : "",
      ]),
    ) as Record<"id" | "title" | "language" | "text", string>;
    const again = async (issues: readonly FieldIssue[]) =>
      c.html(
        page(
          "Canned replies",
          <ManagePage replies={await listCannedReplies(sql)} form={form} issues={issues} />,
          whoOf(p),
          p.role,
        ),
        400,
      );
    const parsed = fields.safeParse(form);
    if (!parsed.success) return again(toIssues(parsed.error));
    const { id, ...input } = parsed.data;
    let reply: ReturnType<typeof checkedCannedReply>;
    try {
      reply = checkedCannedReply(input, bankPhone);
    } catch (err) {
      if (err instanceof ValidationError) return again(err.issues);
      throw err;
    }
    const saved = await putCannedReply(sql, id, reply, p.advocateId ?? p.tokenId);
    await audit(
      sql,
      p.tokenId,
      saved.created ? "canned_reply.created" : "canned_reply.changed",
      `canned_reply:${id}`,
      reply,
    );
    return c.redirect(`/desk/canned-replies?saved=${encodeURIComponent(id)}`, 303);
  });

  app.post("/:id/delete", async (c) => {
    const p = c.get("principal");
    if (!mayManage(p)) return c.html(forbidden(p), 403);
    const id = c.req.param("id");
    if (await deleteCannedReply(sql, id))
      await audit(sql, p.tokenId, "canned_reply.removed", `canned_reply:${id}`);
    return c.redirect("/desk/canned-replies", 303);
  });
  return app;
}
