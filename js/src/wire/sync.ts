/** Wiring between the anywidget model and the views: selection sync and trait listeners. */

import { type SelectionStore, sameIndices } from "../selection";
import { decodeIndices, type EncodedSelection, encodeSelection } from "./codec";
import type { AtlasModel, AtlasTraits } from "./model";

/**
 * Store -> model saves are throttled: a selection is saved at once (a lasso, click or Clear
 * reaches Python without delay), later ones within this interval (a brush drag fires many)
 * in one trailing save of the latest selection.
 */
const SAVE_INTERVAL_MS = 40;

/** Listen for `change:<trait>`; returns the remover of exactly this listener. */
export function onTrait(model: AtlasModel, trait: keyof AtlasTraits & string, handler: () => void): () => void {
  const event = `change:${trait}` as const;
  model.on(event, handler);
  return () => model.off(event, handler);
}

/**
 * Two-way selection sync. model -> store on `change:selection` (a no-op for our own echo);
 * store -> model for changes that came from a view (not from the model): as the store's
 * first listener, before any view redraws, and throttled to one save per `intervalMs`
 * (the first at once, the last one always). Returns the cleanup (removes both listeners
 * and a pending save).
 */
export function syncSelection(model: AtlasModel, store: SelectionStore, intervalMs = SAVE_INTERVAL_MS): () => void {
  // The value this sync saved last and its rows: its own change event and the next save's
  // comparison need no decoding (half a million rows: three passes over them, before the send).
  let saved: { value: unknown; rows: Int32Array } | null = null;
  const isSaved = (value: unknown) => saved !== null && saved.value === value;
  const offModel = onTrait(model, "selection", () => {
    const value = model.get("selection");
    if (!isSaved(value)) store.set(decodeIndices(value), "model");
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = Number.NEGATIVE_INFINITY;
  const save = () => {
    timer = undefined;
    last = Date.now();
    const current = store.get();
    const value = model.get("selection");
    if (sameIndices(saved && isSaved(value) ? saved.rows : decodeIndices(value), current)) return;
    // Binary: the store's int32 array (no copy), or a bitmask of a large selection.
    saved = { value: encodeSelection(current, store.n), rows: current };
    model.set("selection", saved.value as EncodedSelection);
    model.save_changes();
  };
  const offStore = store.subscribe((_selection, source) => {
    if (source === "model" || source === "init") return;
    if (timer !== undefined) return; // the pending trailing save sends the latest selection
    const wait = last + intervalMs - Date.now();
    if (wait <= 0) save();
    else timer = setTimeout(save, wait);
  }, true);
  return () => {
    offModel();
    offStore();
    if (timer !== undefined) clearTimeout(timer);
  };
}
