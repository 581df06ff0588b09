"""The Atlas in marimo: `marimo run notebooks/marimo_atlas.py` (or `marimo edit`).

The demo library in an Atlas wrapped by `mo.ui.anywidget`; a lasso in the page re-runs the
cell that reads `atlas.selection` (the Atlas's own trait), and a button selects from Python.
"""

import marimo

__generated_with = "0.25.2"
app = marimo.App(width="full")


@app.cell
def _():
    import marimo as mo
    import numpy as np

    import miwd_widget as mw

    return mo, mw, np


@app.cell
def _(mo, mw):
    lib = mw.load_demo_library()
    atlas = mw.Atlas(lib, color="accuracy_norm")
    accuracy = lib.metadata["test_accuracy"].to_numpy()
    view = mo.ui.anywidget(atlas)
    view
    return accuracy, atlas, view


@app.cell
def _(accuracy, atlas, mo, np):
    _best = np.argsort(-accuracy)[:20]  # the 20 most accurate models, selected from Python

    def _select_best(clicks):
        atlas.select(_best)
        return clicks + 1

    select_best = mo.ui.button(label="Select the 20 most accurate", value=0, on_click=_select_best)
    select_best
    return (select_best,)


@app.cell
def _(accuracy, atlas, mo, select_best, view):
    # This cell runs again when the page changes the widget (it reads `view.value`, the
    # wrapper's copy of the synced traits, encoded for the wire) and after the button (a
    # change made in Python, `atlas.select`, re-runs no cell by itself). Either way the
    # selection is read from `atlas.selection`, the Atlas's own trait.
    view.value, select_best.value
    _rows = atlas.selection
    _mean = f" · mean test accuracy {accuracy[_rows].mean():.3f}" if _rows else ""
    mo.Html(f'<span class="python-selection">{len(_rows)} models selected in Python{_mean}</span>')
    return


if __name__ == "__main__":
    app.run()
