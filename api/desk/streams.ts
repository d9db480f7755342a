/**
 * The desk's open live streams, by session: a few at most for each session, and all of a
 * session's ended at once when it is signed out or revoked, in this process or — by a message on
 * Redis — in any other.
 */
import { z } from "zod";

/** Why a stream is ended: its session is over, or it gave way to a newer one of the same session. */
export type StreamEnd = "signed-out" | "superseded";

/** What ended: one desk session (by its id's SHA-256, as stored) or every session of a token. */
export const sessionsEnded = z.union([
  z.strictObject({ session: z.string().regex(/^[0-9a-f]{64}$/) }),
  z.strictObject({ token: z.string().min(1).max(200) }),
]);
export type SessionsEnded = z.infer<typeof sessionsEnded>;

/** The Redis channel on which a sign-out or a revocation tells every API process. */
export const deskSessionsChannel = (keyPrefix: string) => `${keyPrefix}:desk-sessions-ended`;

/** A message from the channel, or undefined when it is not one (another version's, garbage). */
export function readSessionsEnded(message: string): SessionsEnded | undefined {
  try {
    const parsed = sessionsEnded.safeParse(JSON.parse(message));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

interface Open {
  tokenId: string;
  end: (why: StreamEnd) => void;
}

/**
 * Streams a session may hold at once in one process. A desk is a tab or two; more are forgotten
 * tabs or a script, and each costs memory and a query on every change.
 */
export const STREAMS_PER_SESSION = 5;

export class DeskStreams {
  /** Open streams by session hash, oldest first. */
  private readonly bySession = new Map<string, Open[]>();

  constructor(private readonly cap = STREAMS_PER_SESSION) {}

  /**
   * Registers a stream of `session` (its hash); `end` is called at most once, when it must stop.
   * Past the cap the session's oldest stream gives way: the newest tab is the one being looked
   * at, and a refused one would stay without updates while forgotten tabs hold the places.
   * Returns the release, for a stream that ends by itself.
   */
  open(session: string, tokenId: string, end: (why: StreamEnd) => void): () => void {
    const list = this.bySession.get(session) ?? [];
    const me: Open = { tokenId, end };
    list.push(me);
    this.bySession.set(session, list);
    while (list.length > this.cap) list.shift()!.end("superseded");
    return () => this.drop(session, me);
  }

  /** Ends the streams of a session or of every session of a token; says how many. */
  end(what: SessionsEnded): number {
    let n = 0;
    for (const [session, list] of [...this.bySession]) {
      const gone =
        "session" in what
          ? session === what.session
            ? [...list]
            : []
          : list.filter((o) => o.tokenId === what.token);
      for (const o of gone) {
        this.drop(session, o);
        o.end("signed-out");
        n++;
      }
    }
    return n;
  }

  /** Streams open for a session, for tests and metrics. */
  count(session: string): number {
    return this.bySession.get(session)?.length ?? 0;
  }

  private drop(session: string, me: Open): void {
    const list = this.bySession.get(session);
    if (!list) return;
    const i = list.indexOf(me);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.bySession.delete(session);
  }
}
