/** Wiring between the anywidget model and the views: selection sync and trait listeners. */
import { decodeIndices, encodeInt32 } from "./codec";
import type { AtlasModel, AtlasTraits } from "./model";
import { type SelectionStore, sameIndices } from "./selection";

/** Store -> model saves are batched: a lasso or brush drag fires many selections. */
const SAVE_DELAY_MS = 30;

/** Listen for `change:<trait>`; returns the remover of exactly this listener. */
export function onTrait(model: AtlasModel, trait: keyof AtlasTraits & string, handler: () => void): () => void {
  const event = `change:${trait}` as const;
  model.on(event, handler);
  return () => model.off(event, handler);
}

/**
 * Two-way selection sync. model -> store on `change:selection` (a no-op for our own echo);
 * store -> model after `delayMs`, for changes that came from a view (not from the model).
 * Returns the cleanup (removes both listeners and a pending save).
 */
export function syncSelection(model: AtlasModel, store: SelectionStore, delayMs = SAVE_DELAY_MS): () => void {
  const offModel = onTrait(model, "selection", () => {
    store.set(decodeIndices(model.get("selection")), "model");
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const save = () => {
    timer = undefined;
    const current = store.get();
    if (sameIndices(decodeIndices(model.get("selection")), current)) return;
    model.set("selection", encodeInt32(current));
    model.save_changes();
  };
  const offStore = store.subscribe((_selection, source) => {
    if (source === "model" || source === "init") return;
    if (timer === undefined) timer = setTimeout(save, delayMs);
  });
  return () => {
    offModel();
    offStore();
    if (timer !== undefined) clearTimeout(timer);
  };
}
