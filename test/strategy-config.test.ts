/** CONTACT_STRATEGY_FILE: a bank's strategy is read at start, and a bad one stops it naming the step. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../engine/config.ts";
import { loadStrategy } from "../main.ts";

function file(content: string): string {
  const f = join(mkdtempSync(join(tmpdir(), "tp-strategy-")), "strategy.json");
  writeFileSync(f, content);
  return f;
}

describe("the contact strategy's configuration", () => {
  it("ships a strategy built from VOICE_AFTER_MINUTES and REPLY_TIMEOUT_MINUTES", () => {
    const s = loadStrategy(loadConfig({ VOICE_AFTER_MINUTES: "2.5", REPLY_TIMEOUT_MINUTES: "20" }));
    expect(s.high.map((x) => [x.do, x.afterMinutes])).toEqual([
      ["message", 0],
      ["voice", 2.5],
      ["task", 20],
    ]);
  });

  it("reads a bank's file", () => {
    const steps = [
      { do: "voice", afterMinutes: 0 },
      { do: "task", afterMinutes: 15 },
    ];
    const s = loadStrategy(
      loadConfig({ CONTACT_STRATEGY_FILE: file(JSON.stringify({ high: steps, medium: steps, low: steps })) }),
    );
    expect(s.medium).toEqual(steps);
  });

  it("stops with one line naming the variable and the bad step", () => {
    const bad = (content: string) => {
      try {
        loadStrategy(loadConfig({ CONTACT_STRATEGY_FILE: file(content) }));
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    const ok = { do: "message", afterMinutes: 0 };
    expect(
      bad(JSON.stringify({ high: [ok, { do: "call", afterMinutes: 5 }], medium: [ok], low: [ok] })),
    ).toMatch(/^invalid configuration: CONTACT_STRATEGY_FILE: high\.1\.do: /);
    expect(bad("{ not json")).toMatch(/^invalid configuration: CONTACT_STRATEGY_FILE: /);
    expect(() => loadStrategy(loadConfig({ CONTACT_STRATEGY_FILE: "/nonexistent/strategy.json" }))).toThrow(
      /CONTACT_STRATEGY_FILE: ENOENT/,
    );
  });

  it("refuses APP_WEBHOOK_URL without its secret, and a TEAM_LINES entry that is no number", () => {
    expect(() => loadConfig({ APP_WEBHOOK_URL: "https://app.bank.example/tp" })).toThrow(
      /APP_WEBHOOK_SECRET: required/,
    );
    expect(() => loadConfig({ TEAM_LINES: "fraud=call me" })).toThrow(
      /TEAM_LINES: fraud: an international number/,
    );
    expect(
      loadConfig({ TEAM_LINES: "fraud=+44 20 7946 0001, *=sip:desk@pbx.bank.example" }).TEAM_LINES,
    ).toBeDefined();
  });
});
