/** Wiring between the anywidget model and the views: selection sync and trait listeners. */

import { type SelectionStore, sameIndices } from "../selection";
import { decodeIndices, encodeSelection } from "./codec";
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
  const offModel = onTrait(model, "selection", () => {
    store.set(decodeIndices(model.get("selection")), "model");
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let last = Number.NEGATIVE_INFINITY;
  const save = () => {
    timer = undefined;
    last = Date.now();
    const current = store.get();
    if (sameIndices(decodeIndices(model.get("selection")), current)) return;
    // Binary: the store's int32 array (no copy), or a bitmask of a large selection.
    model.set("selection", encodeSelection(current, store.n));
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
