/**
 * Work, not just reading: an advocate's own status, claiming a waiting case, handing a case to a
 * colleague with a note (which the colleague reads first), a supervisor's reassignment. Each is
 * a form (Post/Redirect/Get) over the same store calls the API makes, under the same rules.
 */
import { Hono } from "hono";
import { setAdvocateStatus, transferCase } from "../../engine/cases/assignments.ts";
import type { AdvocateStatus, TransferKind } from "../../engine/cases/routing.ts";
import { ConflictError } from "../../engine/errors.ts";
import { cleanText } from "../../engine/input.ts";
import type { Sql } from "../../engine/store/database.ts";
import type { listAdvocates } from "../../engine/store/people.ts";
import type { Principal } from "../../engine/store/tokens.ts";
import { visibleCase } from "../routes/cases.ts";
import { When } from "./layout.tsx";
import type { DeskEnv } from "./session.tsx";
import type { Detail } from "./words.tsx";

type Colleague = Awaited<ReturnType<typeof listAdvocates>>[number];

/** Why a move was refused, by code: the page never echoes text from its address. */
export const MOVE_REFUSED: Record<string, string> = {
  note: "A hand-over needs a note: say what your colleague needs to know first.",
  capacity: "Not moved: they already have as many open cases as they can take.",
  status: "Not moved: they are not online.",
  team: "Not moved: they are in another team.",
  taken: "Not claimed: someone else has the case now.",
  move: "Not moved: the case or the advocate changed in the meantime. Look again.",
};

function refusalCode(reason: string): string {
  if (reason.includes("capacity")) return "capacity";
  if (/ is (away|offline)$/.test(reason)) return "status";
  if (reason.startsWith("no advocate")) return "team";
  if (reason.startsWith("the case is with")) return "taken";
  return "move";
}

/** The note the case came with, shown first to whoever has it now. */
export function HandOffNote({ c, principal }: { c: Detail; principal: Principal }) {
  if (!c.handOff) return null;
  const mine = principal.advocateId !== null && principal.advocateId === c.advocateId;
  return (
    <div class="handoff">
      <b>
        {mine ? "Handed to you" : `Handed to ${c.advocate?.name ?? "the advocate"}`} by {c.handOff.by}
      </b>{" "}
      <span class="muted">
        (<When at={c.handOff.at} />)
      </span>
      <div>“{c.handOff.note}”</div>
    </div>
  );
}

/** Claim, hand over or reassign, as the viewer may. */
export function WorkCard({
  c,
  principal,
  colleagues,
  refused,
}: {
  c: Detail;
  principal: Principal;
  colleagues: readonly Colleague[];
  refused?: string | undefined;
}) {
  if (c.status !== "open") return null;
  const me = principal.advocateId;
  const supervisor = principal.role === "supervisor" || principal.role === "admin";
  const holds = me !== null && c.advocateId === me;
  const others = colleagues.filter((a) => a.id !== c.advocateId && a.team === c.team);
  const canClaim = principal.role === "advocate" && !c.advocateId;
  if (!canClaim && !holds && !supervisor) return null;
  const choice = (
    <select name="to" required aria-label="Colleague">
      {others.map((a) => (
        <option value={a.id} disabled={a.status !== "online" || a.open >= a.capacity}>
          {a.name} — {a.status}, {a.open} of {a.capacity}
        </option>
      ))}
    </select>
  );
  return (
    <div class="card" id="work">
      <h2>Who has it</h2>
      {refused && MOVE_REFUSED[refused] ? <p class="warn">{MOVE_REFUSED[refused]}</p> : null}
      {canClaim ? (
        <form method="post" action={`/desk/cases/${c.id}/claim`}>
          <p class="muted">Nobody has this case yet.</p>
          <button class="primary" type="submit">
            Take this case
          </button>
        </form>
      ) : null}
      {holds || (supervisor && c.advocateId) ? (
        <form method="post" action={`/desk/cases/${c.id}/handoff`}>
          <label for="handoff-to">Hand over to</label>
          {others.length === 0 ? <p class="muted">No colleague in team {c.team}.</p> : choice}
          <label for="handoff-note">Note for them (they read it first)</label>
          <textarea id="handoff-note" name="note" rows={2} required maxlength={2000} />
          <button type="submit">Hand over</button>
        </form>
      ) : null}
      {supervisor && !c.advocateId ? (
        <form method="post" action={`/desk/cases/${c.id}/reassign`}>
          <label for="reassign-to">Give it to</label>
          {choice}
          <label for="reassign-note">Note (optional)</label>
          <textarea id="reassign-note" name="note" rows={2} maxlength={2000} />
          <button type="submit">Reassign</button>
        </form>
      ) : null}
    </div>
  );
}

/** "Your status": online, away, offline, as three buttons (the keyboard reaches each). */
export function StatusForm({ status }: { status: AdvocateStatus }) {
  return (
    <form class="status" method="post" action="/desk/status">
      Your status: <b class={status === "online" ? "ok" : "muted"}>{status}</b>{" "}
      {(["online", "away", "offline"] as const)
        .filter((s) => s !== status)
        .map((s) => (
          <button type="submit" name="status" value={s}>
            Set {s}
          </button>
        ))}
    </form>
  );
}

export function workRoutes(sql: Sql) {
  const app = new Hono<DeskEnv>();

  app.post("/status", async (c) => {
    const p = c.get("principal");
    const form = await c.req.parseBody();
    const status = form.status;
    if (p.advocateId && (status === "online" || status === "away" || status === "offline"))
      await setAdvocateStatus(sql, p.advocateId, status, p.advocateId, new Date());
    return c.redirect("/desk", 303);
  });

  const move = (kind: TransferKind) =>
    app.post(`/cases/:id/${kind}`, async (c) => {
      const p = c.get("principal");
      const kase = await visibleCase(sql, p, c.req.param("id"));
      const form = await c.req.parseBody();
      const to = kind === "claim" ? (p.advocateId ?? "") : typeof form.to === "string" ? form.to : "";
      const note =
        typeof form.note === "string" && form.note.trim()
          ? cleanText(form.note).trim().slice(0, 2000)
          : undefined;
      if (kind === "handoff" && !note) return c.redirect(`/desk/cases/${kase.id}?moved=note#work`, 303);
      try {
        await transferCase(sql, {
          caseId: kase.id,
          toId: to,
          kind,
          by: { role: p.role, advocateId: p.advocateId, label: p.label || p.tokenId },
          note,
          now: new Date(),
        });
      } catch (err) {
        if (err instanceof ConflictError)
          return c.redirect(`/desk/cases/${kase.id}?moved=${refusalCode(err.message)}#work`, 303);
        throw err;
      }
      return c.redirect(`/desk/cases/${kase.id}`, 303);
    });
  move("claim");
  move("handoff");
  move("reassign");
  return app;
}
