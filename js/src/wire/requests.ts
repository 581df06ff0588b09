/**
 * Descriptor requests: custom messages with an id, answered by Python (or by the standalone
 * page's LocalModel). Replies to other views of the same model carry other ids and are ignored.
 */
import { decodeFloat32, type EncodedArray } from "./codec";
import type { AtlasModel, DescriptorReplyContent, DescriptorRequest, MessageBuffer } from "./model";

/** A decoded reply: what the gallery draws. */
export interface DescriptorReply {
  indices: number[];
  labels: string[];
  k: number;
  S: number;
  B: number;
  n: number;
  all: boolean;
  value_range: [number, number] | null;
  descriptors: Float32Array; // (k, S, B)
  mean: Float32Array; // (S, B)
  std: Float32Array; // (S, B)
  /** Standalone page: the saved selection's descriptors, not the current selection's. */
  stale: boolean;
  /** Rows the mean and std come from (`n` unless a large selection was sampled). */
  sampled: number;
}

const REQUEST_TIMEOUT_MS = 20000;

/** A request dropped because a newer one of the same view was sent (never shown). */
export class SupersededError extends Error {
  constructor(id: string) {
    super(`descriptor request ${id} was superseded by a newer one`);
    this.name = "SupersededError";
  }
}

export function isSuperseded(err: unknown): err is SupersededError {
  return err instanceof SupersededError;
}

export function decodeReply(content: DescriptorReplyContent, buffers: readonly MessageBuffer[]): DescriptorReply {
  const { S, B, k } = content;
  const f32 = (i: number, size: number) => {
    const buffer = buffers[i];
    if (buffer === undefined) throw new RangeError(`descriptor reply lacks buffer ${i}`);
    return decodeFloat32({ buffer, dtype: "float32", shape: [size] } satisfies EncodedArray);
  };
  return {
    indices: content.indices ?? [],
    labels: (content.labels ?? []).map(String),
    k,
    S,
    B,
    n: content.n,
    all: Boolean(content.all),
    value_range: content.value_range ?? null,
    descriptors: f32(0, k * S * B),
    mean: f32(1, S * B),
    std: f32(2, S * B),
    stale: Boolean(content.stale),
    sampled: content.sampled ?? content.n,
  };
}

function isReply(content: unknown): content is DescriptorReplyContent {
  return (
    typeof content === "object" &&
    content !== null &&
    (content as { type?: unknown }).type === "descriptors" &&
    typeof (content as { id?: unknown }).id === "string"
  );
}

interface Pending {
  resolve: (reply: DescriptorReply) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

interface DescriptorChannel {
  /**
   * Ask for the descriptors of `indices`. A newer request supersedes the pending ones: they
   * reject with a SupersededError at once, and their late replies are ignored, so the
   * gallery never shows a stale selection.
   */
  request(indices: Int32Array): Promise<DescriptorReply>;
  /** Stop listening; pending requests are dropped (never settled). */
  destroy(): void;
}

/** A random id prefix per view: ids stay unique across views without module-level state. */
function viewToken(): string {
  return Math.random().toString(36).slice(2, 10);
}

export function createDescriptorChannel(model: AtlasModel, timeoutMs = REQUEST_TIMEOUT_MS): DescriptorChannel {
  const token = viewToken();
  const pending = new Map<string, Pending>();
  let counter = 0;

  const onCustom = (content: unknown, buffers: DataView[] | undefined) => {
    if (!isReply(content)) return;
    const entry = pending.get(content.id);
    if (!entry) return;
    pending.delete(content.id);
    clearTimeout(entry.timer);
    if (content.error) {
      entry.reject(new Error(String(content.error)));
      return;
    }
    try {
      entry.resolve(decodeReply(content, buffers ?? []));
    } catch (err) {
      entry.reject(err instanceof Error ? err : new Error(String(err)));
    }
  };
  model.on("msg:custom", onCustom);

  return {
    request(indices) {
      for (const [old, entry] of pending) {
        clearTimeout(entry.timer);
        entry.reject(new SupersededError(old));
      }
      pending.clear();
      return new Promise<DescriptorReply>((resolve, reject) => {
        counter += 1;
        const id = `${token}-${counter}`;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`no reply from the kernel within ${timeoutMs / 1000} s`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        const copy = indices.slice(); // its own ArrayBuffer, exactly n * 4 bytes
        const message: DescriptorRequest = { type: "descriptors", id, n: copy.length };
        model.send(message, undefined, [copy.buffer]);
      });
    },
    destroy() {
      model.off("msg:custom", onCustom);
      for (const entry of pending.values()) clearTimeout(entry.timer);
      pending.clear();
    },
  };
}
