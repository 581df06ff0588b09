/**
 * anywidget entry point (`render` returns the view's cleanup), and `renderStandalone`, which
 * the pages written by `Atlas.save_html` import from this bundle.
 */
import type { Render, RenderProps } from "@anywidget/types";
import { render } from "./atlas";
import type { AtlasTraits } from "./wire/model";
import { LocalModel, type StandalonePayload } from "./wire/standalone";

/** Render the atlas of a saved page into `host`; returns the cleanup. */
export function renderStandalone(host: HTMLElement, payload: StandalonePayload): () => void {
  return render({ model: new LocalModel(payload.state, payload.descriptors, payload.library ?? null), el: host });
}

/** Log the full stack of a failed render (Jupyter only shows the message), then rethrow. */
const renderWithDiagnostics: Render<AtlasTraits> = ({ model, el }: RenderProps<AtlasTraits>) => {
  try {
    return render({ model, el });
  } catch (err) {
    console.error("miwd-widget: render failed", err instanceof Error ? err.stack : err);
    throw err;
  }
};

export default { render: renderWithDiagnostics };
