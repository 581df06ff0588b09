/**
 * Standalone HTML pages (`Atlas.save_html`): the same view on an in-page model that keeps
 * the state locally and answers descriptor requests with the descriptors saved in the page.
 */
import { decodeIndices, toBytes } from "./codec";
import type { AtlasModel, AtlasTraits, DescriptorReplyContent, DescriptorRequest, MessageBuffer } from "./model";
import { sameIndices } from "./selection";

/** A listener of any event (msg:custom gets content and buffers, change:* nothing). */
type Handler = (...args: never[]) => void;

/** The saved selection's descriptor reply, buffers as base64 text. */
interface SavedDescriptors {
  content: DescriptorReplyContent;
  buffers: string[];
  selection: number[];
}

/** What `save_html` writes into the page. */
export interface StandalonePayload {
  state: AtlasTraits;
  descriptors: SavedDescriptors | null;
}

function isRequest(content: unknown): content is DescriptorRequest {
  return typeof content === "object" && content !== null && (content as { type?: unknown }).type === "descriptors";
}

export class LocalModel implements AtlasModel {
  private readonly state: AtlasTraits;
  private readonly handlers = new Map<string, Set<Handler>>();

  constructor(
    state: AtlasTraits,
    private readonly saved: SavedDescriptors | null,
  ) {
    this.state = { ...state };
  }

  get<K extends keyof AtlasTraits>(name: K): AtlasTraits[K] {
    return this.state[name];
  }

  set<K extends keyof AtlasTraits>(name: K, value: AtlasTraits[K]): void {
    this.state[name] = value;
    this.emit(`change:${String(name)}`);
  }

  save_changes(): void {}

  on(event: string, callback: Handler): void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(callback);
  }

  /** Removes exactly one callback; without both arguments it removes nothing. */
  off(event?: string | null, callback?: Handler | null): void {
    if (!event || !callback) return;
    this.handlers.get(event)?.delete(callback);
  }

  /** Number of listeners (all events): lets tests check that a view's cleanup is complete. */
  get listenerCount(): number {
    let count = 0;
    for (const set of this.handlers.values()) count += set.size;
    return count;
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const callback of [...(this.handlers.get(event) ?? [])]) (callback as (...a: unknown[]) => void)(...args);
  }

  send(content: unknown, _callbacks?: unknown, buffers?: ArrayBuffer[] | ArrayBufferView[]): void {
    if (!isRequest(content)) return;
    const first = buffers?.[0];
    const requested = first ? decodeIndices({ buffer: first, dtype: "int32", shape: [content.n] }) : new Int32Array(0);
    setTimeout(() => this.reply(content.id, requested), 0);
  }

  private reply(id: string, requested: Int32Array): void {
    if (!this.saved) {
      this.emit("msg:custom", { type: "descriptors", id, error: "no descriptors saved in this page" }, []);
      return;
    }
    const stale = !sameIndices(requested, this.saved.selection);
    const buffers: MessageBuffer[] = this.saved.buffers.map((text) => {
      const bytes = toBytes(text);
      return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
    this.emit("msg:custom", { ...this.saved.content, id, stale }, buffers);
  }
}
