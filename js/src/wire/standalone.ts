/**
 * Standalone HTML pages (`Atlas.save_html`): the same view on an in-page model that keeps
 * the state locally and answers descriptor requests itself: from the library's descriptors
 * embedded in the page (any selection), else with the one saved selection's gallery.
 */

import { sameIndices } from "../selection";
import { decodeIndices, toBytes } from "./codec";
import { unpackLabels } from "./columns";
import { decodeLibrary, describeSelection, type EncodedLibrary, type QuantizedDescriptors } from "./local_descriptors";
import {
  type AtlasModel,
  type AtlasTraits,
  type DescriptorReplyContent,
  dispatchMessage,
  type MessageBuffer,
  type MessageHandlers,
} from "./model";

/** A listener of any event (msg:custom gets content and buffers, change:* nothing). */
type Handler = (...args: never[]) => void;

/** The saved selection's descriptor reply, buffers as base64 text. */
interface SavedDescriptors {
  content: DescriptorReplyContent;
  buffers: string[];
  selection: number[];
}

/** Every model's descriptor (uint16 codes) and gallery caption, as `save_html` embeds them. */
export type EmbeddedLibrary = EncodedLibrary & { labels: Parameters<typeof unpackLabels>[0] };

/** What `save_html` writes into the page (`library` is null beyond `max_descriptor_bytes`). */
export interface StandalonePayload {
  state: AtlasTraits;
  descriptors: SavedDescriptors | null;
  library?: EmbeddedLibrary | null;
}

/** The decoded library: codes and captions. */
interface LocalLibrary {
  descriptors: QuantizedDescriptors;
  labels: string[];
}

async function decodeEmbedded(library: EmbeddedLibrary): Promise<LocalLibrary> {
  return { descriptors: await decodeLibrary(library), labels: unpackLabels(library.labels) };
}

export class LocalModel implements AtlasModel {
  private readonly state: AtlasTraits;
  private readonly handlers = new Map<string, Set<Handler>>();
  /** Decoded once, on the first request; null without an embedded library or if decoding failed. */
  private library: Promise<LocalLibrary | null> | null = null;

  constructor(
    state: AtlasTraits,
    private readonly saved: SavedDescriptors | null,
    private readonly embedded: EmbeddedLibrary | null = null,
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
    dispatchMessage(this.answers, content, buffers ?? []);
  }

  /** What the page answers, by message type (`Atlas`'s handlers in Python). */
  private readonly answers: MessageHandlers = {
    descriptors: (request, buffers) => {
      const first = buffers[0];
      const requested = first
        ? decodeIndices({ buffer: first, dtype: "int32", shape: [request.n] })
        : new Int32Array(0);
      setTimeout(() => void this.reply(request.id, requested), 0);
    },
    // The page holds every column (`save_html` sends none deferred) and has no kernel to
    // find neighbours: nothing to answer.
    columns: () => {},
    neighbors: () => {},
  };

  private loadLibrary(): Promise<LocalLibrary | null> {
    if (!this.library) {
      const embedded = this.embedded;
      this.library = embedded
        ? decodeEmbedded(embedded).catch((err: unknown) => {
            // e.g. a browser without DecompressionStream: the saved selection still shows.
            console.warn("miwd-widget: the page's descriptors could not be decoded", err);
            return null;
          })
        : Promise.resolve(null);
    }
    return this.library;
  }

  private async reply(id: string, requested: Int32Array): Promise<void> {
    const saved = this.saved;
    // The saved selection's gallery is exact (float32): used whenever it is the one asked for.
    if (saved && sameIndices(requested, saved.selection)) {
      this.emit("msg:custom", { ...saved.content, id, stale: false }, savedBuffers(saved));
      return;
    }
    const library = await this.loadLibrary();
    if (library) {
      const n = library.descriptors.n;
      const bad = requested.find((row) => !(row >= 0 && row < n));
      if (bad !== undefined) {
        this.emit("msg:custom", { type: "descriptors", id, error: `row ${bad} is not in [0, ${n})` }, []);
        return;
      }
      const [content, buffers] = this.compute(library, id, requested);
      this.emit("msg:custom", content, buffers);
      return;
    }
    if (!saved) {
      this.emit("msg:custom", { type: "descriptors", id, error: "no descriptors saved in this page" }, []);
      return;
    }
    this.emit("msg:custom", { ...saved.content, id, stale: true }, savedBuffers(saved));
  }

  /** The reply Python's `Atlas.descriptor_reply` would give, from the embedded codes. */
  private compute(library: LocalLibrary, id: string, requested: Int32Array): [DescriptorReplyContent, MessageBuffer[]] {
    const { descriptors, labels } = library;
    const everything = requested.length === 0;
    const gallery = describeSelection(descriptors, everything ? null : requested, this.state.gallery_size ?? 12);
    const indices = Array.from(gallery.shown);
    const content: DescriptorReplyContent = {
      type: "descriptors",
      id,
      n: everything ? descriptors.n : requested.length,
      all: everything,
      indices,
      labels: indices.map((row) => labels[row] ?? String(row)),
      k: indices.length,
      S: descriptors.S,
      B: descriptors.B,
      value_range: this.state.value_range ?? null,
      stale: false,
    };
    return [content, [gallery.descriptors, gallery.mean, gallery.std]];
  }
}

function savedBuffers(saved: SavedDescriptors): MessageBuffer[] {
  return saved.buffers.map((text) => {
    const bytes = toBytes(text);
    return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  });
}
