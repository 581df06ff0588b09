import { afterEach, describe, expect, it, vi } from "vitest";
import { SelectionStore } from "../selection";
import { decodeIndices } from "./codec";
import type { AtlasTraits } from "./model";
import { LocalModel } from "./standalone";
import { onTrait, syncSelection } from "./sync";

function state(selection: number[] = []): AtlasTraits {
  return {
    n: 10,
    coordinates: null,
    _columns: {},
    color: "",
    axes: [],
    tooltip_columns: [],
    selection,
    S: 2,
    B: 2,
    value_range: null,
    gallery_size: 4,
    _located: {},
    clusters: {},
    _all_columns: [],
    _neighbors: {},
    neighbors_k: 10,
    _paths: {},
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("selection sync", () => {
  it("saves a view's selection at once, before other listeners, and throttles drags", () => {
    vi.useFakeTimers();
    const model = new LocalModel(state(), null);
    const save = vi.spyOn(model, "save_changes");
    const store = new SelectionStore(10);
    const seen: number[] = [];
    store.subscribe(() => seen.push(save.mock.calls.length)); // a view, subscribed earlier
    const stop = syncSelection(model, store, 30);
    store.set([5, 0], "scatter"); // a lasso: saved synchronously, including row 0
    expect(save).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([1]); // the view ran after the save
    expect(Array.from(decodeIndices(model.get("selection")))).toEqual([0, 5]);
    store.set([0, 5, 7], "parallel"); // a drag within the interval: one trailing save
    store.set([0, 5, 7, 8], "parallel");
    expect(save).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(30);
    expect(save).toHaveBeenCalledTimes(2);
    expect(Array.from(decodeIndices(model.get("selection")))).toEqual([0, 5, 7, 8]);
    vi.advanceTimersByTime(30);
    store.set([], "toolbar"); // Clear, after the interval: at once
    expect(save).toHaveBeenCalledTimes(3);
    expect(Array.from(decodeIndices(model.get("selection")))).toEqual([]);
    stop();
  });

  it("applies model changes to the store without echoing them back", () => {
    vi.useFakeTimers();
    const model = new LocalModel(state(), null);
    const save = vi.spyOn(model, "save_changes");
    const store = new SelectionStore(10);
    const stop = syncSelection(model, store);
    model.set("selection", [3, 0]);
    expect(Array.from(store.get())).toEqual([0, 3]);
    vi.advanceTimersByTime(100);
    expect(save).not.toHaveBeenCalled();
    stop();
  });

  it("cleanup removes exactly its listeners and a pending save", () => {
    vi.useFakeTimers();
    const model = new LocalModel(state(), null);
    const other = () => {};
    model.on("change:selection", other); // e.g. another view of the same model
    const store = new SelectionStore(10);
    const stop = syncSelection(model, store);
    const offColor = onTrait(model, "color", () => {});
    expect(model.listenerCount).toBe(3);
    store.set([1], "scatter"); // saved at once
    store.set([3], "scatter"); // within the interval: a pending trailing save
    expect(vi.getTimerCount()).toBe(1);
    stop();
    offColor();
    expect(model.listenerCount).toBe(1); // the other view's listener survives
    expect(vi.getTimerCount()).toBe(0);
    store.set([2], "scatter");
    vi.advanceTimersByTime(100);
    expect(Array.from(decodeIndices(model.get("selection")))).toEqual([1]);
  });

  it("saves a large selection as a bitmask, and reads one back", () => {
    vi.useFakeTimers();
    const n = 100_000;
    const model = new LocalModel({ ...state(), n }, null);
    const store = new SelectionStore(n);
    const stop = syncSelection(model, store);
    const rows = Int32Array.from({ length: 20_000 }, (_, i) => 5 * i);
    store.set(rows, "lasso"); // 20,000 of 100,000: above n / 32 and 16,384 rows
    const saved = model.get("selection") as { encoding?: string; shape: number[] };
    expect(saved.encoding).toBe("bitmask");
    expect(saved.shape).toEqual([12_500]);
    expect(decodeIndices(saved)).toEqual(rows);
    store.set([5], "lasso"); // one row: int32
    vi.advanceTimersByTime(100);
    expect((model.get("selection") as { dtype: string }).dtype).toBe("int32");
    const bits = new Uint8Array(12_500);
    bits[12_499] = 0x80;
    model.set("selection", {
      buffer: new DataView(bits.buffer),
      dtype: "uint8",
      shape: [12_500],
      encoding: "bitmask",
      n,
    });
    expect(Array.from(store.get())).toEqual([n - 1]);
    stop();
  });

  it("takes its own saved value's change as an echo, and a new value from Python as a change", () => {
    vi.useFakeTimers();
    const model = new LocalModel(state(), null);
    const store = new SelectionStore(10);
    const stop = syncSelection(model, store);
    const sources: string[] = [];
    store.subscribe((_selection, source) => sources.push(source));
    store.set([2, 4], "lasso");
    expect(sources).toEqual(["lasso"]); // the save's own change event changed nothing
    model.set("selection", [2, 4, 6]); // Python
    expect(sources).toEqual(["lasso", "model"]);
    expect(Array.from(store.get())).toEqual([2, 4, 6]);
    vi.advanceTimersByTime(100);
    store.set([2, 4], "lasso"); // back to the rows saved before: saved again, not skipped
    expect(Array.from(decodeIndices(model.get("selection")))).toEqual([2, 4]);
    stop();
  });
});
