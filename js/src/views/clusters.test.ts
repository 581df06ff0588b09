import { describe, expect, it } from "vitest";
import { encodeColors } from "../draw/coloring";
import { encodeCategories } from "../wire/columns";
import {
  CLUSTER_COLUMN,
  clusterColors,
  clusterColumn,
  decodeClusters,
  encodeClusters,
  NO_CLUSTER,
  nextClusterName,
  renameCluster,
} from "./clusters";

describe("clusters trait codec", () => {
  it("round-trips names, order and rows through one int32 buffer", () => {
    const clusters = new Map([
      ["B", Int32Array.of(0, 5, 9)],
      ["A", Int32Array.of()],
      ["hot", Int32Array.of(2)],
    ]);
    const encoded = encodeClusters(clusters);
    expect(encoded.names).toEqual(["B", "A", "hot"]);
    expect(encoded.sizes).toEqual([3, 0, 1]);
    const back = decodeClusters(encoded);
    expect([...back.keys()]).toEqual(["B", "A", "hot"]);
    expect(Array.from(back.get("B") ?? [])).toEqual([0, 5, 9]);
    expect(back.get("A")?.length).toBe(0);
    expect(Array.from(back.get("hot") ?? [])).toEqual([2]);
  });

  it("reads Python's format with a byte offset into a shared buffer", () => {
    const shared = new ArrayBuffer(4 * 6);
    new Int32Array(shared).set([99, 1, 2, 3, 4, 99]);
    const view = new DataView(shared, 4, 16); // rows 1..4 only
    const back = decodeClusters({
      names: ["X", "Y"],
      sizes: [1, 3],
      rows: { buffer: view, dtype: "int32", shape: [4] },
    });
    expect(Array.from(back.get("X") ?? [])).toEqual([1]);
    expect(Array.from(back.get("Y") ?? [])).toEqual([2, 3, 4]);
  });

  it("is empty for the empty trait", () => {
    expect(decodeClusters({}).size).toBe(0);
    expect(decodeClusters(null).size).toBe(0);
  });
});

describe("cluster names", () => {
  it("are the paper's A, B, C ... then AA, skipping taken ones", () => {
    expect(nextClusterName([])).toBe("A");
    expect(nextClusterName(["A", "B"])).toBe("C");
    expect(nextClusterName(["B"])).toBe("A");
    const alphabet = Array.from({ length: 26 }, (_, i) => String.fromCharCode(65 + i));
    expect(nextClusterName(alphabet)).toBe("AA");
    expect(nextClusterName([...alphabet, "AA"])).toBe("AB");
  });

  it("rename keeps the cluster's place and rows", () => {
    const clusters = new Map([
      ["A", Int32Array.of(1)],
      ["B", Int32Array.of(2)],
    ]);
    const renamed = renameCluster(clusters, "A", "sgd");
    expect([...renamed.keys()]).toEqual(["sgd", "B"]);
    expect(renamed.get("sgd")).toBe(clusters.get("A"));
  });
});

describe("cluster colours", () => {
  it("match the colours the (cluster) column gets in the scatter", () => {
    const clusters = new Map([
      ["Z", Int32Array.of(0)],
      ["B", Int32Array.of(1)],
    ]);
    // Python's cluster column: categories in cluster order, then (no cluster).
    const column = { ...encodeCategories(["Z", "B", NO_CLUSTER]), name: "(cluster)" };
    column.categories = ["Z", "B", NO_CLUSTER];
    column.codes = Int8Array.of(0, 1, 2);
    for (const background of ["#ffffff", "#111111"]) {
      const encoding = encodeColors(column, 3, background);
      const colors = clusterColors(clusters, background);
      expect(colors.get("Z")).toBe(encoding.palette[0]);
      expect(colors.get("B")).toBe(encoding.palette[1]);
    }
    const encoding = encodeColors(column, 3);
    const colors = clusterColors(clusters);
    expect(colors.get("Z")).toBe(encoding.palette[0]);
    expect(colors.get("B")).toBe(encoding.palette[1]);
    expect(colors.get("Z")).not.toBe(colors.get("B"));
  });
});

describe("the (cluster) column", () => {
  it("gives each row its first cluster and keeps every cluster a category, empty or hidden", () => {
    const clusters = new Map([
      ["A", Int32Array.of(0, 1, 2)],
      ["B", Int32Array.of(1)], // hidden under A
      ["empty", Int32Array.of()],
      ["C", Int32Array.of(5)],
    ]);
    const column = clusterColumn(clusters, 7);
    expect(column.name).toBe(CLUSTER_COLUMN);
    if (column.kind !== "categorical") throw new Error("categorical expected");
    expect(column.categories).toEqual(["A", "B", "empty", "C", NO_CLUSTER]);
    expect(Array.from(column.codes)).toEqual([0, 0, 0, 4, 4, 3, 4]);
    expect(column.missing).toBe(4);
    // C's points get C's chip colour although B and "empty" draw no point
    const { palette } = encodeColors(column, 7);
    expect(clusterColors(clusters).get("C")).toBe(palette[3]);
  });
});
