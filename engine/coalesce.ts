/**
 * Calls that arrive while one is under way go together in the next: the group commit of
 * `RecordWriter`, for any statement that can answer many callers at once. A call that comes alone
 * runs at once; calls that come together (a request's events land on every partition of a process
 * in the same millisecond) cost one statement instead of one each.
 */
export class Coalescer<Req, Res> {
  private readonly waiting: Array<{ req: Req; done: (r: Res) => void; failed: (err: unknown) => void }> = [];
  private running = false;

  constructor(
    /** Answers every request of a group, in its order. A failure fails the whole group. */
    private readonly run: (requests: readonly Req[]) => Promise<readonly Res[]>,
    /** Told the requests in each group (a metric, or a test). */
    private readonly onGroup?: (size: number) => void,
  ) {}

  call(req: Req): Promise<Res> {
    return new Promise((done, failed) => {
      this.waiting.push({ req, done, failed });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.waiting.length > 0) {
        const group = this.waiting.splice(0, this.waiting.length);
        // Whatever throws, every caller of the group is answered.
        try {
          this.onGroup?.(group.length);
          const results = await this.run(group.map((g) => g.req));
          if (results.length !== group.length)
            throw new Error(`coalesced call answered ${results.length} of ${group.length} requests`);
          for (const [i, g] of group.entries()) g.done(results[i]!);
        } catch (err) {
          for (const g of group) g.failed(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
