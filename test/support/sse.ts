/** A server-sent event stream read as a test reads it: event by event, or to its end. */

export interface SseEvent {
  event: string;
  data: string;
}

export interface SseReader {
  /** The next event (comments skipped), or undefined once the server has ended the stream. */
  next(): Promise<SseEvent | undefined>;
  /** Reads until an event of this name, returning it; throws if the stream ends first. */
  until(event: string): Promise<SseEvent>;
  /** Every event left, once the server ends the stream. */
  rest(): Promise<SseEvent[]>;
  /** Hangs up, as a closed tab does. */
  cancel(): Promise<void>;
}

export function readSse(res: Response): SseReader {
  if (!res.body) throw new Error("no body to read");
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const next = async (): Promise<SseEvent | undefined> => {
    for (;;) {
      const end = buffer.indexOf("\n\n");
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split("\n").filter((l) => !l.startsWith(":"));
        if (lines.length === 0) continue;
        const field = (name: string) =>
          lines
            .filter((l) => l.startsWith(`${name}: `))
            .map((l) => l.slice(name.length + 2))
            .join("\n");
        return { event: field("event") || "message", data: field("data") };
      }
      const { done, value } = await reader.read();
      if (done) return undefined;
      buffer += value;
    }
  };
  return {
    next,
    async until(event) {
      for (let e = await next(); e; e = await next()) if (e.event === event) return e;
      throw new Error(`the stream ended before a ${event} event`);
    },
    async rest() {
      const all: SseEvent[] = [];
      for (let e = await next(); e; e = await next()) all.push(e);
      return all;
    },
    cancel: () => reader.cancel(),
  };
}
