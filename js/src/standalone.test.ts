import { describe, expect, it } from "vitest";
import type { AtlasTraits, DescriptorReplyContent } from "./model";
import { createDescriptorChannel } from "./requests";
import { LocalModel } from "./standalone";

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
