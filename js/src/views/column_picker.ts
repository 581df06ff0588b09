/**
 * An ordered list of columns to edit in the view (the parallel axes, the tooltip): a chip per
 * column with move-left, move-right and remove buttons, and a menu that adds any column of
 * the metadata. Choosing a column the browser does not have makes Python send it.
 */
import { el, listen } from "../draw/dom";

/** `names` with the item at `index` moved by `delta` places (clamped; a copy). */
export function moveItem(names: readonly string[], index: number, delta: number): string[] {
  const next = [...names];
  const to = Math.min(next.length - 1, Math.max(0, index + delta));
  if (index < 0 || index >= next.length || to === index) return next;
  const [item] = next.splice(index, 1);
  next.splice(to, 0, item);
  return next;
}

/** The columns the add menu offers: all of `options` not chosen yet, in their order. */
export function addable(options: readonly string[], chosen: readonly string[]): string[] {
  const taken = new Set(chosen);
  return options.filter((name) => !taken.has(name));
}

interface PickerOptions {
  parent: HTMLElement;
  label: string;
  testid: string;
  get: () => string[];
  set: (names: string[]) => void;
  options: () => string[];
}

export interface ColumnPicker {
  refresh(): void;
  destroy(): void;
}

function small(text: string, title: string): HTMLButtonElement {
  const node = el("button", "miwd-picker-button", text);
  node.type = "button";
  node.title = title;
  node.setAttribute("aria-label", title);
  return node;
}

export function createColumnPicker(opts: PickerOptions): ColumnPicker {
  const root = el("div", "miwd-picker");
  root.dataset.testid = opts.testid;
  const title = el("span", "miwd-picker-title", `${opts.label}:`);
  const list = el("span", "miwd-picker-list");
  const add = el("select", "miwd-picker-add");
  add.dataset.testid = `${opts.testid}-add`;
  add.setAttribute("aria-label", `Add a column to ${opts.label.toLowerCase()}`);
  root.append(title, list, add);
  opts.parent.append(root);
  let itemRemovers: (() => void)[] = [];

  const refresh = () => {
    for (const remove of itemRemovers) remove();
    itemRemovers = [];
    const names = opts.get();
    list.replaceChildren(
      ...names.map((name, i) => {
        const chip = el("span", "miwd-picker-chip");
        chip.dataset.column = name;
        const left = small("‹", `Move ${name} left`);
        const right = small("›", `Move ${name} right`);
        const remove = small("×", `Remove ${name}`);
        left.disabled = i === 0;
        right.disabled = i === names.length - 1;
        const text = el("span", "miwd-picker-name", name);
        text.title = name;
        chip.append(left, text, right, remove);
        itemRemovers.push(
          listen(left, "click", () => opts.set(moveItem(opts.get(), i, -1))),
          listen(right, "click", () => opts.set(moveItem(opts.get(), i, 1))),
          listen(remove, "click", () => opts.set(opts.get().filter((n) => n !== name))),
        );
        return chip;
      }),
    );
    const head = el("option", "", "+ add…");
    head.value = "";
    const choices = addable(opts.options(), names).map((name) => {
      const option = el("option", "", name);
      option.value = name;
      return option;
    });
    add.replaceChildren(head, ...choices);
    add.value = "";
    add.disabled = choices.length === 0;
  };

  const removeAdd = listen(add, "change", () => {
    const name = add.value;
    if (name) opts.set([...opts.get(), name]);
  });
  refresh();

  return {
    refresh,
    destroy() {
      for (const remove of itemRemovers) remove();
      removeAdd();
      root.remove();
    },
  };
}
