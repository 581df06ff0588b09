/**
 * The line above the scatter naming what the atlas is laid out on: the representation
 * `library.project(representation=...)` used (Python's `representation` trait, e.g.
 * "miwd (32×32)" or "stats (K=16)"). The gallery shows MI-WD descriptors whatever it is.
 */
import { el } from "../draw/dom";

/** The line's text; empty (the line hidden) when the page names no representation. */
export function representationText(name: string): string {
  return name ? `Layout: ${name}` : "";
}

/** Append the line to `parent`; `refresh()` re-reads `get()`, `destroy()` removes it. */
export function createRepresentationNote({ parent, get }: { parent: HTMLElement; get: () => string }) {
  const node = el("div", "miwd-note miwd-representation");
  node.dataset.testid = "miwd-representation";
  node.title =
    "The representation the atlas is projected from (library.project(representation=...)); " +
    "the gallery shows MI-WD descriptors";
  parent.append(node);
  const refresh = () => {
    node.textContent = representationText(get());
    node.hidden = !node.textContent;
  };
  refresh();
  return { refresh, destroy: () => node.remove() };
}
