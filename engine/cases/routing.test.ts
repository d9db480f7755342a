import { describe, expect, it } from "vitest";
import { type AdvocateLoad, chooseAdvocate } from "./routing.ts";

const adv = (id: string, over: Partial<AdvocateLoad> = {}): AdvocateLoad => ({
  id,
  name: `Advocate ${id}`,
  team: "fraud",
  status: "online",
  capacity: 5,
  open: 0,
  ...over,
});

describe("chooseAdvocate", () => {
  it("gives the case back to the customer's previous advocate when online with capacity", () => {
    const prev = adv("a2", { open: 4 });
    const choice = chooseAdvocate({
      previousId: "a2",
      previous: prev,
      team: [adv("a1"), prev],
      teamName: "fraud",
    });
    expect(choice.advocateId).toBe("a2");
    expect(choice.fallback).toBeUndefined();
  });

  it("falls back to the least-loaded online advocate when the previous one is offline, and says so", () => {
    const prev = adv("a2", { status: "offline" });
    const team = [
      adv("a1", { open: 3 }),
      prev,
      adv("a3", { open: 1 }),
      adv("a4", { open: 0, status: "away" }),
    ];
    const choice = chooseAdvocate({ previousId: "a2", previous: prev, team, teamName: "fraud" });
    expect(choice).toMatchObject({ advocateId: "a3", fallback: "offline" });
    expect(choice.reason).toContain("offline");
  });

  it("skips a previous advocate at capacity", () => {
    const prev = adv("a2", { open: 5 });
    const choice = chooseAdvocate({
      previousId: "a2",
      previous: prev,
      team: [adv("a1", { open: 2 }), prev],
      teamName: "fraud",
    });
    expect(choice).toMatchObject({ advocateId: "a1", fallback: "at capacity" });
  });

  it("routes a first-time customer to the least-loaded advocate with the reason 'no previous advocate'", () => {
    const choice = chooseAdvocate({
      previousId: null,
      team: [adv("a1", { open: 2 }), adv("a2", { open: 1 })],
      teamName: "fraud",
    });
    expect(choice).toMatchObject({ advocateId: "a2", fallback: "no previous advocate" });
  });

  it("leaves the case waiting when nobody can take it", () => {
    const choice = chooseAdvocate({
      previousId: null,
      team: [adv("a1", { status: "offline" }), adv("a2", { open: 5 })],
      teamName: "fraud",
    });
    expect(choice.advocateId).toBeNull();
    expect(choice.reason).toContain("waiting");
  });

  it("never picks an advocate at zero capacity", () => {
    const choice = chooseAdvocate({
      previousId: null,
      team: [adv("a1", { capacity: 0 })],
      teamName: "fraud",
    });
    expect(choice.advocateId).toBeNull();
  });
});

describe("waiting for the customer's previous advocate", () => {
  it("keeps a medium case 30 minutes for an advocate who is away", () => {
    const prev = adv("a2", { status: "away" });
    const choice = chooseAdvocate({
      previousId: "a2",
      previous: prev,
      team: [adv("a1"), prev],
      teamName: "fraud",
      severity: "medium",
    });
    expect(choice).toMatchObject({ advocateId: null, waitMinutes: 30, fallback: "away" });
    expect(choice.reason).toContain("who helped this customer before");
  });

  it("never makes a high-severity case wait", () => {
    const prev = adv("a2", { status: "away" });
    const choice = chooseAdvocate({
      previousId: "a2",
      previous: prev,
      team: [adv("a1"), prev],
      teamName: "fraud",
      severity: "high",
    });
    expect(choice).toMatchObject({ advocateId: "a1", fallback: "away" });
  });

  it("does not wait for an advocate who is off shift", () => {
    const prev = adv("a2", { status: "offline" });
    const choice = chooseAdvocate({
      previousId: "a2",
      previous: prev,
      team: [adv("a1"), prev],
      teamName: "fraud",
      severity: "low",
    });
    expect(choice.advocateId).toBe("a1");
  });

  it("falls back once the wait is over", () => {
    const prev = adv("a2", { open: 5 });
    const choice = chooseAdvocate({
      previousId: "a2",
      previous: prev,
      team: [adv("a1"), prev],
      teamName: "fraud",
      severity: "low",
      waitExpired: true,
    });
    expect(choice).toMatchObject({ advocateId: "a1", fallback: "at capacity" });
    expect(choice.reason).toContain("after the wait");
  });
});

describe("a previous advocate now in another team", () => {
  it("is not chosen, since they could not see the case, and says why", () => {
    const prev = adv("a2", { team: "disputes" });
    const choice = chooseAdvocate({
      previousId: "a2",
      previous: prev,
      team: [adv("a1")],
      teamName: "fraud",
      severity: "medium",
    });
    expect(choice).toMatchObject({ advocateId: "a1", fallback: "in another team" });
  });

  describe("routing's reasons and ties, as the advocate reads them on the timeline", () => {
    it("says why the previous advocate got the case", () => {
      const prev = adv("a2", { name: "Amara Okafor" });
      const choice = chooseAdvocate({ previousId: "a2", previous: prev, team: [prev], teamName: "fraud" });
      expect(choice.reason).toBe("previous advocate Amara Okafor is online with capacity");
    });

    it("waits for a previous advocate at capacity as for one away, when the case is not high", () => {
      const prev = adv("a2", { name: "Amara Okafor", open: 5 });
      const choice = chooseAdvocate({
        previousId: "a2",
        previous: prev,
        team: [adv("a1"), prev],
        teamName: "fraud",
        severity: "medium",
      });
      expect(choice).toMatchObject({ advocateId: null, fallback: "at capacity", waitMinutes: 30 });
      expect(choice.reason).toBe(
        "waiting up to 30 min for Amara Okafor (at capacity), who helped this customer before; medium severity",
      );
    });

    it("names the fallback plainly when there was no wait", () => {
      const prev = adv("a2", { name: "Amara Okafor", status: "offline" });
      const choice = chooseAdvocate({
        previousId: "a2",
        previous: prev,
        team: [adv("a1"), prev],
        teamName: "fraud",
      });
      expect(choice.reason).toBe(
        "Amara Okafor is offline; least-loaded online advocate of team fraud (0 open of 5)",
      );
    });

    it("between equally loaded advocates prefers the one with more room, then the first by id", () => {
      const team = [
        adv("a1", { open: 2, capacity: 4 }),
        adv("a2", { open: 2, capacity: 8 }),
        adv("a3", { open: 3 }),
      ];
      expect(chooseAdvocate({ previousId: null, team, teamName: "fraud" }).advocateId).toBe("a2");
      const same = [adv("b2", { open: 1 }), adv("b1", { open: 1 })];
      expect(chooseAdvocate({ previousId: null, team: same, teamName: "fraud" }).advocateId).toBe("b1");
    });
  });
});
