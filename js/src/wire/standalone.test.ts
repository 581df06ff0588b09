import { describe, expect, it } from "vitest";
import type { AtlasTraits, DescriptorReplyContent } from "./model";
import { createDescriptorChannel } from "./requests";
import { type EmbeddedLibrary, LocalModel } from "./standalone";

const S = 2;
const B = 2;

function b64(values: number[]): string {
  const bytes = new Uint8Array(Float32Array.from(values).buffer);
  return btoa(String.fromCharCode(...bytes));
}

const traits = { n: 5, selection: [1, 3] } as unknown as AtlasTraits;
const saved = {
  content: {
    type: "descriptors",
    id: "saved",
    k: 1,
    S,
    B,
    n: 2,
    indices: [1],
    labels: ["m1"],
  } as DescriptorReplyContent,
  buffers: [b64([1, 2, 3, 4]), b64([0.5, 0.5, 0.5, 0.5]), b64([0, 0, 0, 0])],
  selection: [1, 3],
};

/** 4 models of 2 x 2 values: code c of row r, value j is 10 * r + j; offset 1, step 0.5. */
function embedded(): EmbeddedLibrary {
  const codes = Uint16Array.from({ length: 16 }, (_, i) => 10 * Math.floor(i / 4) + (i % 4));
  const bytes = new Uint8Array(codes.buffer);
  const labels = new TextEncoder().encode(["a", "b", "c", "d"].join("\0"));
  return {
    codes: btoa(String.fromCharCode(...bytes)),
    compression: "none",
    dtype: "uint16",
    shape: [4, S, B],
    offset: 1,
    step: 0.5,
    max_error: 0.25,
    labels: {
      text: { buffer: btoa(String.fromCharCode(...labels)), dtype: "uint8", shape: [labels.length] },
      count: 4,
    },
  };
}

describe("standalone page with the library's descriptors embedded", () => {
  const state = { n: 4, selection: [1, 3], gallery_size: 2, value_range: [-1, 1] } as unknown as AtlasTraits;

  it("computes the gallery of any selection, not marked stale", async () => {
    const model = new LocalModel(state, saved, embedded());
    const channel = createDescriptorChannel(model);
    const reply = await channel.request(Int32Array.from([0, 2, 3]));
    // values 1 + 0.5 * (10 r + j): rows 0, 2, 3 -> mean over r of 5 r = 25/3
    const mean = [0, 1, 2, 3].map((j) => 1 + 0.5 * j + 25 / 3);
    for (const [j, v] of reply.mean.entries()) expect(v).toBeCloseTo(mean[j], 5);
    const std = 5 * Math.sqrt(((0 - 5 / 3) ** 2 + (2 - 5 / 3) ** 2 + (3 - 5 / 3) ** 2) / 3);
    for (const v of reply.std) expect(v).toBeCloseTo(std, 5);
    expect(reply.indices).toEqual([0, 3]); // 2 of 3, spread: first and last
    expect(reply.labels).toEqual(["a", "d"]);
    expect(Array.from(reply.descriptors)).toEqual([1, 1.5, 2, 2.5, 16, 16.5, 17, 17.5]);
    expect([reply.n, reply.k, reply.S, reply.B, reply.all, reply.stale]).toEqual([3, 2, S, B, false, false]);
    expect(reply.value_range).toEqual([-1, 1]);
    channel.destroy();
    expect(model.listenerCount).toBe(0);
  });

  it("describes all models for an empty request, keeps the exact saved gallery, rejects bad rows", async () => {
    const channel = createDescriptorChannel(new LocalModel(state, saved, embedded()));
    const all = await channel.request(new Int32Array(0));
    expect([all.n, all.all]).toEqual([4, true]);
    expect(all.mean[0]).toBeCloseTo(1 + 0.5 * 15, 5);
    const exact = await channel.request(Int32Array.from([1, 3]));
    expect(Array.from(exact.descriptors)).toEqual([1, 2, 3, 4]); // the saved float32 reply
    await expect(channel.request(Int32Array.from([2, 4]))).rejects.toThrow(/row 4 is not in \[0, 4\)/);
  });

  it("falls back to the saved selection when the codes cannot be decoded", async () => {
    const broken = { ...embedded(), shape: [5, S, B] };
    const warn = console.warn;
    const warnings: unknown[] = [];
    console.warn = (...args: unknown[]) => warnings.push(args);
    try {
      const channel = createDescriptorChannel(new LocalModel(state, saved, broken));
      const reply = await channel.request(Int32Array.from([0]));
      expect(reply.stale).toBe(true);
      expect(Array.from(reply.descriptors)).toEqual([1, 2, 3, 4]);
      expect(warnings.length).toBe(1);
    } finally {
      console.warn = warn;
    }
  });
});

describe("standalone page model", () => {
  it("answers a request for the saved selection with the saved descriptors", async () => {
    const model = new LocalModel(traits, saved);
    const channel = createDescriptorChannel(model);
    const reply = await channel.request(Int32Array.from([1, 3]));
    expect(Array.from(reply.descriptors)).toEqual([1, 2, 3, 4]);
    expect(Array.from(reply.mean)).toEqual([0.5, 0.5, 0.5, 0.5]);
    expect(reply.labels).toEqual(["m1"]);
    expect(reply.stale).toBe(false);
    channel.destroy();
    expect(model.listenerCount).toBe(0);
  });

  it("marks the reply stale for any other selection, and errors without saved descriptors", async () => {
    const channel = createDescriptorChannel(new LocalModel(traits, saved));
    expect((await channel.request(Int32Array.from([0]))).stale).toBe(true);
    const empty = createDescriptorChannel(new LocalModel(traits, null));
    await expect(empty.request(Int32Array.from([0]))).rejects.toThrow(/no descriptors saved/);
  });

  it("keeps its own copy of the state and notifies change listeners", () => {
    const model = new LocalModel(traits, null);
    const seen: unknown[] = [];
    model.on("change:color", () => seen.push(model.get("color")));
    model.set("color", "lr");
    expect(seen).toEqual(["lr"]);
    expect(traits.color).toBeUndefined();
    model.off(); // a broad off() removes nothing
    expect(model.listenerCount).toBe(1);
  });
});
