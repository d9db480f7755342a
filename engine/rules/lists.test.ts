import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.ts";
import {
  csvFirstColumn,
  listKey,
  listsFrom,
  listsOf,
  MAX_ITEM_LENGTH,
  MAX_LIST_ITEMS,
  normaliseItems,
  parseListName,
  patchItems,
  replaceItems,
} from "./lists.ts";

function issuesOf(f: () => unknown) {
  try {
    f();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues;
    throw e;
  }
  throw new Error("no error");
}

describe("a list's name and items", () => {
  it("names a list in lower-case words joined by dashes, at most 64 characters", () => {
    expect(parseListName("blocked-merchants")).toBe("blocked-merchants");
    for (const bad of ["", "Blocked", "a--b", "-a", "a_b", "a".repeat(65)])
      expect(issuesOf(() => parseListName(bad))[0]!.path).toBe("name");
  });

  it("trims items, drops blank ones and collapses duplicates, keeping the first order", () => {
    expect(normaliseItems([" Shop X ", "Shop X", "", "  ", "Shop Y"])).toEqual(["Shop X", "Shop Y"]);
  });

  it("hands the evaluators each item as its listKey, an item stored before listKey or a test case's own included", () => {
    const lists = listsFrom({ "blocked-merchants": ["Galerie Lumie\u0300re", " Shop X"] });
    expect([...lists.get("blocked-merchants")!]).toEqual(["Galerie Lumi\u00e8re", "Shop X"]);
  });

  it("stores each item as its listKey: trimmed and composed (NFC), case kept", () => {
    expect(listKey(" Galerie Lumie\u0300re\t")).toBe("Galerie Lumi\u00e8re");
    expect(normaliseItems(["Galerie Lumie\u0300re", "Galerie Lumi\u00e8re", "SHOP X", "Shop X"])).toEqual([
      "Galerie Lumi\u00e8re",
      "SHOP X",
      "Shop X",
    ]);
  });

  it("refuses an item that is not a string or too long, and too many items, naming where", () => {
    expect(issuesOf(() => normaliseItems(["ok", 5, "x".repeat(MAX_ITEM_LENGTH + 1)]))).toEqual([
      { path: "items[1]", message: "a string; got number" },
      { path: "items[2]", message: `at most ${MAX_ITEM_LENGTH} characters; got ${MAX_ITEM_LENGTH + 1}` },
    ]);
    const many = Array.from({ length: MAX_LIST_ITEMS + 1 }, (_, i) => `i${i}`);
    expect(issuesOf(() => normaliseItems(many))).toEqual([
      { path: "items", message: `at most ${MAX_LIST_ITEMS} items; got ${MAX_LIST_ITEMS + 1}` },
    ]);
  });
});

describe("a change to a list", () => {
  it("says what a replacement added and removed", () => {
    expect(replaceItems(["a", "b"], ["b", "c"])).toEqual({ items: ["b", "c"], added: ["c"], removed: ["a"] });
  });

  it("adds what is new and removes what is there, and refuses an item both added and removed", () => {
    expect(patchItems(["a", "b"], ["b", "c"], ["a", "z"])).toEqual({
      items: ["b", "c"],
      added: ["c"],
      removed: ["a"],
    });
    expect(issuesOf(() => patchItems([], ["a"], ["a"]))).toEqual([
      { path: "remove", message: "also in add: a" },
    ]);
  });
});

describe("a CSV's first column", () => {
  it("reads quoted fields, commas and line breaks inside quotes, CRLF, and a header when said", () => {
    const text =
      '\ufeffname,note\r\n"Shop, X","a ""quoted"" note"\nShop Y,"two\nlines"\n"He said ""hi""",x\n';
    expect(csvFirstColumn(text, true)).toEqual(["Shop, X", "Shop Y", 'He said "hi"']);
    expect(csvFirstColumn("a\nb")).toEqual(["a", "b"]);
  });
  it('keeps every record after one whose later field holds a stray quote (12" screen), as spreadsheets do', () => {
    const csv =
      'merchant,note\nAcme,12" screen\nShop X,ok\nShop Y,"quoted, with ""quotes""\nand a line break"\nShop Z\n';
    expect(csvFirstColumn(csv, true)).toEqual(["Acme", "Shop X", "Shop Y", "Shop Z"]);
  });
  it("drops a spreadsheet's byte-order mark, so the first item is not spelt with it", () => {
    expect(csvFirstColumn("\ufeffShop X\nShop Y\n")).toEqual(["Shop X", "Shop Y"]);
    expect(csvFirstColumn('\ufeff"Shop X",note\n')).toEqual(["Shop X"]);
  });
});

describe("the lists a rule names", () => {
  it("finds every inList and notInList, however deep", () => {
    const conditions = {
      any: [
        { fact: "event", path: "$.merchant.name", operator: "inList", value: "b" },
        { not: { all: [{ fact: "event.country", operator: "notInList", value: "a" }] } },
        { fact: "event.country", operator: "in", value: ["x"] },
      ],
    };
    expect(listsOf({ conditions } as never)).toEqual(["a", "b"]);
  });
});
