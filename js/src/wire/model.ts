/**
 * The widget's model: the traits Python syncs (`AtlasTraits`, src/miwd_widget/widget/traits.py;
 * tests/widget/test_traits.py checks that both sides declare the same ones) and the custom
 * messages (src/miwd_widget/widget/messages.py), typed on top of `@anywidget/types`.
 */
import type { AnyModel } from "@anywidget/types";
import type { EncodedNeighbors } from "../draw/neighbors";
import type { EncodedPaths } from "../draw/paths";
import type { EncodedClusters } from "../views/clusters";
import type { EncodedArray, EncodedSelection } from "./codec";
import type { EncodedColumn } from "./columns";

/** `Atlas._located`: markers of located models, `{}` when there are none. */
export interface EncodedLocated {
  x: EncodedArray;
  y: EncodedArray;
  /** (q, k) int32 row positions of each query's nearest library models, -1 = none. */
  neighbors: EncodedArray;
  names: string[];
}

/** The synced traits of `Atlas` (a type alias, not an interface: AnyModel wants an index signature). */
export type AtlasTraits = {
  n: number;
  coordinates: EncodedArray | null;
  _columns: Record<string, EncodedColumn>;
  color: string;
  axes: string[];
  tooltip_columns: string[];
  /** Row positions: int32, or a bitmask above n / 32 rows; a plain list is accepted too. */
  selection: EncodedSelection | number[];
  S: number;
  B: number;
  value_range: [number, number] | null;
  gallery_size: number;
  /** What the atlas is laid out on, e.g. "stats (K=16)" (views/representation.ts). Absent in older pages. */
  representation?: string;
  _located: EncodedLocated | Record<string, never>;
  /** Named clusters: names, sizes and all their rows in one int32 buffer. */
  clusters: EncodedClusters | Record<string, never>;
  /** Every metadata column (the menus offer them; Python sends the ones chosen). */
  _all_columns: string[];
  /** The descriptor-space neighbours shown, set by Python after a "neighbors" message. */
  _neighbors: EncodedNeighbors;
  neighbors_k: number;
  _paths: EncodedPaths;
  /**
   * Tooltip-only text columns (ids, paths) of a large library not in `_columns` yet: the view
   * asks for them with a `ColumnsRequest` after its first frame. Absent in older pages.
   */
  _deferred_columns?: string[];
  /**
   * The deferred columns once sent, as tooltip text: a trait of their own, so that sending
   * them does not send `_columns` again. `_columns` wins for a name in both. Absent in pages.
   */
  _text_columns?: Record<string, EncodedColumn>;
};

/**
 * Browser -> Python: send these deferred columns (Python adds them to `_text_columns`, or to
 * `_columns` when they are drawn).
 */
export interface ColumnsRequest {
  type: "columns";
  names: string[];
}

/** Browser -> Python: show the descriptor-space neighbours of `row` (-1: show none). */
export interface NeighborsRequest {
  type: "neighbors";
  row: number;
  k: number;
}

/** The part of anywidget's model API the widget uses (what `LocalModel` implements too). */
export type AtlasModel = Pick<AnyModel<AtlasTraits>, "get" | "set" | "on" | "off" | "save_changes" | "send">;

/** Browser -> Python: descriptors of the selection sent as one int32 buffer of `n` positions. */
export interface DescriptorRequest {
  type: "descriptors";
  id: string;
  n: number;
}

/** Python -> browser: the reply to a request (buffers: gallery (k, S, B), mean, std). */
export interface DescriptorReplyContent {
  type: "descriptors";
  id: string;
  error?: string;
  indices?: number[];
  labels?: string[];
  k: number;
  S: number;
  B: number;
  n: number;
  all?: boolean;
  value_range?: [number, number] | null;
  /** Standalone page: the saved selection's descriptors, not the current selection's. */
  stale?: boolean;
  /** Rows the mean and std come from: fewer than `n` when a large selection was sampled. */
  sampled?: number;
}

/** What a comm message's buffers may be (DataViews from ipywidgets, others when local). */
export type MessageBuffer = DataView | ArrayBuffer | ArrayBufferView;

/** Every message a view sends to Python. */
export type ViewMessage = DescriptorRequest | ColumnsRequest | NeighborsRequest;

/** One handler per message type: a message type without its handler does not compile. */
export type MessageHandlers = {
  [T in ViewMessage["type"]]: (message: Extract<ViewMessage, { type: T }>, buffers: readonly MessageBuffer[]) => void;
};

/** Give a message to the handler of its `type`; other contents (unknown types, non-objects) are ignored. */
export function dispatchMessage(
  handlers: MessageHandlers,
  content: unknown,
  buffers: readonly MessageBuffer[] = [],
): void {
  if (typeof content !== "object" || content === null) return;
  const type = (content as { type?: unknown }).type;
  if (typeof type !== "string" || !Object.hasOwn(handlers, type)) return;
  const handler = handlers[type as ViewMessage["type"]] as (message: ViewMessage, b: readonly MessageBuffer[]) => void;
  handler(content as ViewMessage, buffers);
}
