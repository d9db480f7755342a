import { describe, expect, it } from "vitest";
import { type AdvocateLoad, chooseAdvocate, transferProblem } from "./routing.ts";

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

describe("a person moving a case", () => {
  const open = { status: "open", team: "fraud", advocateId: "a1", advocateName: "Advocate a1" };
  const holder = { role: "advocate", advocateId: "a1" };
  const problem = (over: Partial<Parameters<typeof transferProblem>[0]>) =>
    transferProblem({ kind: "handoff", case: open, to: adv("b1"), toId: "b1", by: holder, ...over });

  it("lets the holder hand over to an online colleague of the team with room", () => {
    expect(problem({})).toBeUndefined();
    expect(problem({ to: adv("b1", { open: 4 }) })).toBeUndefined();
  });

  it("keeps to the routing rules: the case's team, online, under capacity", () => {
    expect(problem({ to: adv("b1", { team: "disputes" }) })).toBe("no advocate b1 in team fraud");
    expect(problem({ to: adv("b1", { status: "away" }) })).toBe("Advocate b1 is away");
    expect(problem({ to: adv("b1", { status: "offline" }) })).toBe("Advocate b1 is offline");
    expect(problem({ to: adv("b1", { open: 5 }) })).toBe("Advocate b1 has 5 open cases, their capacity");
    expect(problem({ to: undefined, toId: "zz" })).toBe("no advocate zz");
    expect(problem({ case: { ...open, status: "resolved" } })).toBe("the case is resolved");
  });

  it("lets only the holder or a supervisor hand over, and only a supervisor reassign", () => {
    expect(problem({ by: { role: "advocate", advocateId: "c9" } })).toBe(
      "only the advocate holding the case, or a supervisor, hands it over",
    );
    expect(problem({ by: { role: "supervisor" } })).toBeUndefined();
    expect(problem({ kind: "reassign", by: holder })).toBe("only a supervisor reassigns a case");
    expect(problem({ kind: "reassign", by: { role: "admin" } })).toBeUndefined();
    expect(problem({ to: adv("a1"), toId: "a1" })).toBe("the case is already with Advocate a1");
  });

  it("lets an advocate claim a waiting case for themselves only", () => {
    const waiting = { ...open, advocateId: null, advocateName: null };
    const claim = (over: Partial<Parameters<typeof transferProblem>[0]>) =>
      problem({ kind: "claim", case: waiting, by: { role: "advocate", advocateId: "b1" }, ...over });
    expect(claim({})).toBeUndefined();
    expect(claim({ toId: "c9", to: adv("c9") })).toBe("an advocate claims a case for themselves only");
    expect(claim({ case: open })).toBe("the case is with Advocate a1; ask them or a supervisor");
    expect(claim({ case: { ...open, advocateId: "b1" } })).toBe("the case is already yours");
    expect(claim({ to: adv("b1", { status: "away" }) })).toBe("Advocate b1 is away");
  });
});
