import { describe, expect, it } from "vitest";
import { type Column, encodeCategories } from "../wire/columns";
import { csvButtonText, csvNumber, csvText, csvWhenReady, selectionCsv } from "./export";

/** A minimal RFC 4180 reader (quoted fields, doubled quotes, CRLF), to read the CSV back. */
function parseCsv(text: string): { fields: string[]; quoted: boolean[] }[] {
  const rows: { fields: string[]; quoted: boolean[] }[] = [];
  let fields: string[] = [];
  let quoted: boolean[] = [];
  let i = 0;
  while (i < text.length) {
    let value = "";
    let isQuoted = false;
    if (text[i] === '"') {
      isQuoted = true;
      i++;
      while (i < text.length) {
        if (text[i] === '"' && text[i + 1] === '"') {
          value += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else value += text[i++];
      }
    } else {
      while (i < text.length && text[i] !== "," && text[i] !== "\r") value += text[i++];
    }
    fields.push(value);
    quoted.push(isQuoted);
    if (text[i] === ",") i++;
    else if (text.startsWith("\r\n", i)) {
      i += 2;
      rows.push({ fields, quoted });
      fields = [];
      quoted = [];
    }
  }
  return rows;
}

function columns(): Map<string, Column> {
  const optimizer = { ...encodeCategories(["adam", "sgd", null, "adam"]), name: "optimizer" };
  const lr = Float32Array.from([0.1, 0.001, Number.NaN, 3e-5]);
  return new Map<string, Column>([
    ["lr", { kind: "numeric", name: "lr", values: lr, min: 3e-5, max: 0.1, log: true }],
    ["optimizer", optimizer],
    // Hostile ids: quotes, commas, a line break, a formula-like and an HTML one.
    ["id", { kind: "text", name: "id", labels: ['a"b', "c,d", "e\r\nf", '=1+1<img src=x onerror="x">'] }],
  ]);
}

describe("CSV fields", () => {
  it("quotes text and doubles inner quotes", () => {
    expect(csvText('say "hi", bye')).toBe('"say ""hi"", bye"');
    expect(csvText("")).toBe('""');
  });

  it("writes numbers exactly and briefly, missing as empty", () => {
    expect(csvNumber(Math.fround(0.1))).toBe("0.1");
    expect(csvNumber(Math.fround(3e-5))).toBe("0.00003");
    expect(csvNumber(123456789)).toBe("123456789");
    expect(csvNumber(-2)).toBe("-2");
    expect(csvNumber(0.1)).toBe("0.1"); // a float64 keeps JS's shortest form
    expect(csvNumber(Number.NaN)).toBe("");
    for (const v of [Math.fround(1 / 3), Math.fround(Math.PI * 1e7), Math.fround(-2.5e-12)]) {
      expect(Math.fround(Number(csvNumber(v)))).toBe(v);
    }
  });
});

describe("selectionCsv", () => {
  it("writes the selected rows, id first, text quoted and numbers not", () => {
    const text = selectionCsv(Int32Array.from([0, 2, 3]), columns());
    const rows = parseCsv(text);
    expect(rows.map((r) => r.fields)).toEqual([
      ["id", "lr", "optimizer"],
      ['a"b', "0.1", "adam"],
      ["e\r\nf", "", ""], // missing values are empty cells, whatever the column
      ['\'=1+1<img src=x onerror="x">', "0.00003", "adam"], // a formula stays inert text
    ]);
    expect(rows[1].quoted).toEqual([true, false, true]);
    expect(text.endsWith("\r\n")).toBe(true);
  });

  it("starts with the row position when the view has no id, and has only a header for no rows", () => {
    const cols = columns();
    cols.delete("id");
    const rows = parseCsv(selectionCsv([1, 3], cols)).map((r) => r.fields);
    expect(rows).toEqual([
      ["row", "lr", "optimizer"],
      ["1", "0.001", "sgd"],
      ["3", "0.00003", "adam"],
    ]);
    expect(selectionCsv([], columns())).toBe('"id","lr","optimizer"\r\n');
  });
});

describe("CSV safety and fidelity", () => {
  it("keeps text that a spreadsheet would run as a formula inert", () => {
    expect(csvText('=HYPERLINK("http://x","y")')).toBe(`"'=HYPERLINK(""http://x"",""y"")"`);
    for (const lead of ["+1", "-cmd", "@SUM(A1)", "\tx", "\rx"]) expect(csvText(lead).startsWith(`"'`)).toBe(true);
    expect(csvText("m00001")).toBe('"m00001"');
    expect(csvNumber(-3)).toBe("-3"); // numbers are not text: no apostrophe
  });

  it("writes missing values as empty cells, exact big integers and dates as text", () => {
    const cats: Column = { ...encodeCategories(["a", null]), name: "opt" };
    const big: Column = {
      kind: "numeric",
      name: "seed",
      values: new Float64Array([2 ** 60, Number.NaN]),
      min: 0,
      max: 2 ** 60,
      log: false,
      exact: BigInt64Array.of(2n ** 60n + 1n, 0n),
      missing: Uint8Array.of(0, 1),
    } as unknown as Column;
    const rows = selectionCsv(
      Int32Array.of(0, 1),
      new Map([
        ["opt", cats],
        ["seed", big],
      ]),
    ).split("\r\n");
    expect(rows[1]).toBe(`0,"a","${(2n ** 60n + 1n).toString()}"`);
    expect(rows[2]).toBe("1,,");
  });
});

describe("CSV while the ids are deferred", () => {
  it("waits for them and then writes them first", async () => {
    const withoutIds = columns();
    withoutIds.delete("id");
    let current = withoutIds;
    let arrive = (_missing: string[]) => {};
    const ready = new Promise<string[]>((resolve) => {
      arrive = resolve;
    });
    let result: { text: string; missing: string[] } | null = null;
    void csvWhenReady(Int32Array.from([1]), () => current, ready).then((csv) => {
      result = csv;
    });
    await Promise.resolve();
    expect(result).toBeNull(); // nothing is saved without the ids
    current = columns(); // the ids arrived (the _text_columns change), then the promise resolves
    arrive([]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    const done = result as { text: string; missing: string[] } | null;
    expect(done?.missing).toEqual([]);
    expect(parseCsv(done?.text ?? "").map((r) => r.fields)).toEqual([
      ["id", "lr", "optimizer"],
      ["c,d", "0.001", "sgd"],
    ]);
  });

  it("writes the columns there when the ids never came, and names them", async () => {
    const withoutIds = columns();
    withoutIds.delete("id");
    const { text, missing } = await csvWhenReady(Int32Array.from([1]), () => withoutIds, Promise.resolve(["id"]));
    expect(missing).toEqual(["id"]);
    expect(parseCsv(text).map((r) => r.fields)).toEqual([
      ["row", "lr", "optimizer"],
      ["1", "0.001", "sgd"],
    ]);
  });

  it("writes at once when nothing is deferred", async () => {
    const { text, missing } = await csvWhenReady(Int32Array.from([0]), columns, null);
    expect(parseCsv(text)[1].fields[0]).toBe('a"b');
    expect(missing).toEqual([]);
  });

  it("the button says it is waiting, then which columns the CSV lacks", () => {
    expect(csvButtonText("CSV", false, [])).toEqual({ title: "CSV", note: "" });
    expect(csvButtonText("CSV", true, ["id"]).title).toMatch(/ids/);
    expect(csvButtonText("CSV", true, ["id"]).note).toBe("");
    const lacking = csvButtonText("CSV", false, ["id", "path"]);
    expect(lacking.note).toBe("CSV saved without id, path (no answer from the kernel)");
    expect(lacking.title).toMatch(/^CSV\. The last CSV has no id, path: .*try again$/);
  });
});
