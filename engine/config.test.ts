import { describe, expect, it } from "vitest";
import { ConfigError, hasVonageCredentials, loadConfig } from "./config.ts";

describe("loadConfig", () => {
  it("gives DESIGN's defaults for an empty environment", () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      PORT: 3000,
      REDIS_URL: "redis://127.0.0.1:6379",
      DATA_DIR: "./data",
      VONAGE_FROM: "touchpoint",
      ROLE: "all",
    });
    expect(c.DATABASE_URL).toBeUndefined();
    expect(c.DATABASE_POOL_MAX).toBe(10);
    expect(c.ADMIN_TOKEN).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
  });

  it("stops on a bad value with one line naming the variable", () => {
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: "eighty" })).toThrow(/^invalid configuration: PORT: /);
    expect(() => loadConfig({ DATABASE_URL: "mysql://x" })).toThrow(
      /DATABASE_URL: must be a postgres:\/\/ URL/,
    );
    expect(() => loadConfig({ ROLE: "both" })).toThrow(/ROLE/);
    expect(() => loadConfig({ DATABASE_POOL_MAX: "0" })).toThrow(/DATABASE_POOL_MAX: must be at least 1/);
    // One line, even with several bad variables (the try/catch form of this could pass vacuously).
    expect(() => loadConfig({ PORT: "70000", ROLE: "both" })).toThrow(
      /^invalid configuration: [^\n]*PORT[^\n]*ROLE[^\n]*$/,
    );
  });

  it("takes BANK_PHONE only as a valid international number, in any spacing", () => {
    expect(loadConfig({}).BANK_PHONE).toBe("+44 20 7946 0000");
    expect(loadConfig({ BANK_PHONE: "+448001234567" }).BANK_PHONE).toBe("+448001234567");
    expect(loadConfig({ BANK_PHONE: "+1 (212) 736-5000" }).BANK_PHONE).toBe("+1 (212) 736-5000");
    // National format reads differently in each country; a number out of range is no one's.
    for (const BANK_PHONE of ["0800 123 4567", "448001234567", "+44 7700 900123", "+44 12", "call us", ""])
      expect(() => loadConfig({ BANK_PHONE }), BANK_PHONE).toThrow(
        /^invalid configuration: BANK_PHONE: must be a valid phone number in international format, e\.g\. \+44 20 7946 0000$/,
      );
  });

  it("keeps events 90 days unless told, and refuses a retention that is not a whole number of days", () => {
    expect(loadConfig({}).EVENT_RETENTION_DAYS).toBe(90);
    expect(loadConfig({ EVENT_RETENTION_DAYS: "400" }).EVENT_RETENTION_DAYS).toBe(400);
    for (const EVENT_RETENTION_DAYS of ["0", "1.5", "ninety", "4000"])
      expect(() => loadConfig({ EVENT_RETENTION_DAYS }), EVENT_RETENTION_DAYS).toThrow(
        /^invalid configuration: EVENT_RETENTION_DAYS: /,
      );
  });

  it("treats blank variables as unset", () => {
    expect(loadConfig({ DATABASE_URL: "", VONAGE_API_KEY: " " }).DATABASE_URL).toBeUndefined();
  });

  it("knows when Vonage can really send", () => {
    expect(hasVonageCredentials(loadConfig({}))).toBe(false);
    expect(hasVonageCredentials(loadConfig({ VONAGE_API_KEY: "k", VONAGE_API_SECRET: "s" }))).toBe(true);
    expect(hasVonageCredentials(loadConfig({ VONAGE_API_KEY: "k" }))).toBe(false);
  });
});
