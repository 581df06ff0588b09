import { afterEach, describe, expect, it, vi } from "vitest";
import type { AtlasModel, DescriptorReplyContent } from "./model";
import { createDescriptorChannel, decodeReply, isSuperseded } from "./requests";

const S = 2;
const B = 3;

function replyBuffers(k: number): DataView[] {
  // Each buffer a view into the middle of a larger ArrayBuffer, as a comm message delivers.
  return [k * S * B, S * B, S * B].map((size, i) => {
    const backing = new ArrayBuffer(8 + size * 4);
    new Float32Array(backing, 8, size).fill(i + 1);
    return new DataView(backing, 8, size * 4);
  });
}

function content(id: string, k: number): DescriptorReplyContent {
  return { type: "descriptors", id, k, S, B, n: k, indices: [0, 4].slice(0, k), labels: ["m0", "m4"].slice(0, k) };
}

/** A model whose `send` is recorded; `deliver` plays Python answering on msg:custom. */
function fakeModel() {
  const listeners = new Set<(content: unknown, buffers: DataView[]) => void>();
  const sent: { content: { id: string; n: number }; buffers: ArrayBuffer[] }[] = [];
  const model = {
    on: (_event: string, cb: (content: unknown, buffers: DataView[]) => void) => listeners.add(cb),
    off: (_event: string, cb: (content: unknown, buffers: DataView[]) => void) => listeners.delete(cb),
    send: (c: { id: string; n: number }, _cb: unknown, buffers: ArrayBuffer[]) => sent.push({ content: c, buffers }),
  } as unknown as AtlasModel;
  const deliver = (c: unknown, buffers: DataView[]) => {
    for (const cb of [...listeners]) cb(c, buffers);
  };
  return { model, sent, deliver, listeners };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("descriptor requests", () => {
  it("decodes a reply whose buffers are views with a byteOffset", () => {
    const reply = decodeReply(content("x", 2), replyBuffers(2));
    expect(reply.descriptors.length).toBe(2 * S * B);
    expect(Array.from(reply.mean)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(Array.from(reply.std)).toEqual([3, 3, 3, 3, 3, 3]);
    expect(reply.indices).toEqual([0, 4]);
    expect(reply.stale).toBe(false);
    expect(reply.sampled).toBe(reply.n); // exact unless Python says it sampled
    expect(decodeReply({ ...content("x", 2), n: 90000, sampled: 65536 }, replyBuffers(2)).sampled).toBe(65536);
    expect(() => decodeReply(content("x", 2), replyBuffers(2).slice(0, 2))).toThrow(/buffer 2/);
  });

  it("sends the selection as one int32 buffer and resolves with the matching reply only", async () => {
    const { model, sent, deliver } = fakeModel();
    const channel = createDescriptorChannel(model);
    const promise = channel.request(Int32Array.from([0, 4]));
    expect(sent).toHaveLength(1);
    const { id, n } = sent[0].content;
    expect(n).toBe(2);
    expect(Array.from(new Int32Array(sent[0].buffers[0]))).toEqual([0, 4]);
    deliver(content("another-view-1", 1), replyBuffers(1)); // another view's reply: ignored
    deliver(content(id, 2), replyBuffers(2));
    const reply = await promise;
    expect(reply.k).toBe(2);
    channel.destroy();
  });

  it("gives two channels (two views of one model) distinct request ids", () => {
    const { model, sent } = fakeModel();
    const a = createDescriptorChannel(model);
    const b = createDescriptorChannel(model);
    void a.request(new Int32Array(0));
    void b.request(new Int32Array(0));
    expect(sent[0].content.id).not.toBe(sent[1].content.id);
    a.destroy();
    b.destroy();
  });

  it("rejects on an error reply and on a timeout", async () => {
    vi.useFakeTimers();
    const { model, sent, deliver } = fakeModel();
    const channel = createDescriptorChannel(model, 1000);
    const failing = channel.request(Int32Array.from([1]));
    deliver({ type: "descriptors", id: sent[0].content.id, error: "index 99 out of range" }, []);
    await expect(failing).rejects.toThrow("index 99 out of range");
    const silent = channel.request(Int32Array.from([1]));
    vi.advanceTimersByTime(1001);
    await expect(silent).rejects.toThrow(/within 1 s/);
    channel.destroy();
  });

  it("destroy removes its listener and pending timers", () => {
    vi.useFakeTimers();
    const { model, listeners } = fakeModel();
    const channel = createDescriptorChannel(model);
    void channel.request(Int32Array.from([1]));
    expect(listeners.size).toBe(1);
    channel.destroy();
    expect(listeners.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("a newer request supersedes a pending one: it rejects at once, its late reply is ignored", async () => {
    vi.useFakeTimers();
    const { model, sent, deliver } = fakeModel();
    const channel = createDescriptorChannel(model, 1000);
    const older = channel.request(Int32Array.from([0]));
    const olderId = sent[0].content.id;
    const newer = channel.request(Int32Array.from([0, 4]));
    const newerId = sent[1].content.id;
    const error = await older.catch((err: unknown) => err);
    expect(isSuperseded(error)).toBe(true);
    expect(vi.getTimerCount()).toBe(1); // only the newer request's timeout is left
    let settled = false;
    void newer.then(() => {
      settled = true;
    });
    deliver(content(olderId, 1), replyBuffers(1)); // the stale reply arrives first: ignored
    await Promise.resolve();
    expect(settled).toBe(false);
    deliver(content(newerId, 2), replyBuffers(2));
    const reply = await newer;
    expect(reply.k).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
    channel.destroy();
  });
});
