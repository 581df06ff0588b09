"""The ``miwd`` command line: describe models, build/project/query libraries, train zoos, demo.

Exit codes: 0 success, 1 some models failed (the rest was done) or the work failed,
2 usage errors and bad paths. Errors are one line on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

# Only the standard library is imported at module level: `miwd --help` must be instant, and
# each command imports what it needs.

__all__ = ["main", "render_descriptor"]

EXIT_OK, EXIT_PARTIAL, EXIT_USAGE = 0, 1, 2

#: The notebook the demo points to (in the repository's notebooks/ folder).
QUICKSTART = "01_quickstart.ipynb"

#: Library neighbours the demo draws for each model it places in the atlas.
DEMO_NEIGHBORS = 5

#: Eight shades for the text rendering of a descriptor (blank = empty bin).
SHADES = " .:-=+*#%@"


class UsageError(Exception):
    """Bad arguments or paths: exit code 2."""


def render_descriptor(descriptor: np.ndarray, rows: int | None = None) -> str:
    """A compact text picture of an (S, B) descriptor: one line per window, one char per bin.

    Each line is scaled to its own maximum (shades `` .:-=+*#%@``). With ``rows`` < S,
    consecutive windows are averaged so that at most ``rows`` lines are printed.

    Examples
    --------
    >>> import numpy as np
    >>> print(render_descriptor(np.array([[0.0, 0.5, 1.0], [1.0, 0.0, 0.0]])))
    |  ++@@|
    |@@    |
    """
    import numpy as np

    d = np.asarray(descriptor, dtype=np.float64)
    if rows is not None and 0 < rows < d.shape[0]:
        groups = np.array_split(np.arange(d.shape[0]), rows)
        d = np.stack([d[g].mean(0) for g in groups])
    top = d.max(axis=1, keepdims=True)
    level = np.where(top > 0, d / np.where(top > 0, top, 1), 0)
    idx = np.ceil(level * (len(SHADES) - 1)).astype(int)
    return "\n".join("|" + "".join(SHADES[i] * 2 for i in line) + "|" for line in idx)


def _value_range(text: str) -> Any:
    """``--range``: 'auto', 'paper' or LO,HI, checked by the descriptors' own validator."""
    from .descriptors.config import PAPER_VALUE_RANGE, check_value_range

    if text == "paper":
        return PAPER_VALUE_RANGE
    try:
        value: Any = tuple(float(v) for v in text.split(","))
    except ValueError:
        value = text  # "auto", or text the validator names in its message
    try:
        return check_value_range(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"expected 'auto', 'paper' or LO,HI (e.g. -0.5,0.5): {exc}"
        ) from None


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return v


def _err(message: str) -> None:
    print(f"miwd: {message}", file=sys.stderr)


def _report_errors(errors: Any) -> None:
    for source, error in zip(errors["source"], errors["error"], strict=True):
        text = error if str(source) in error else f"{source}: {error}"
        _err(f"failed: {text}")


def _library_file(path: str) -> Any:
    from .library import ModelLibrary

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{p}: no such library file")
    try:
        return ModelLibrary.load(p)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _descriptor_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("-S", "--windows", type=_positive, default=32, help="windows S (default 32)")
    p.add_argument("-B", "--bins", type=_positive, default=32, help="histogram bins B (default 32)")
    p.add_argument(
        "--range",
        dest="value_range",
        type=_value_range,
        default="auto",
        help="histogram range: 'auto' (pooled 5th-95th percentiles, default), "
        "'paper' (-5,5) or LO,HI",
    )


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


def cmd_describe(args: argparse.Namespace) -> int:
    import numpy as np

    from .library import ModelLibrary, expand_paths

    # One missing or special path is recorded like a broken file, not the end of the run.
    files = expand_paths(args.files, missing="keep")
    lib = ModelLibrary.from_files(
        files,
        S=args.windows,
        B=args.bins,
        value_range=args.value_range,
        n_jobs=args.jobs,
        progress=False,
    )
    _report_errors(lib.errors)
    if len(lib) == 0:
        _err("no model could be described")
        return EXIT_PARTIAL
    lo, hi = lib.value_range
    print(f"{len(lib)} model(s), descriptors {lib.S}x{lib.B}, value range [{lo:.4g}, {hi:.4g}]")
    if args.out:
        out = Path(args.out)
        np.save(out, lib.descriptors)
        print(f"wrote {out} ({len(lib)}, {lib.S}, {lib.B}) float32, rows in this order:")
        for source in lib.metadata["source"]:
            print(f"  {source}")
    else:
        for i, row in lib.metadata.iterrows():
            print(f"\n{row['source']}  N={int(row['n_params']):,} weights")
            print(render_descriptor(lib.descriptors[i], rows=args.rows))
    return EXIT_PARTIAL if len(lib.errors) else EXIT_OK


def cmd_build(args: argparse.Namespace) -> int:
    from .library import ModelLibrary

    out = Path(args.output)
    start = time.perf_counter()
    if out.exists() and not args.overwrite:
        lib = _library_file(str(out))
        before, failed_before = len(lib), len(lib.errors)
        lib.add(args.paths, metadata=args.metadata, on=args.on, n_jobs=args.jobs)
        new_errors = lib.errors.iloc[failed_before:]
        print(f"added {len(lib) - before} new model(s) to {out} ({len(lib)} in all)")
        _report_errors(new_errors)
        if len(lib) == before and len(new_errors) == 0:
            return EXIT_OK  # nothing new: the file stays as it is
    else:
        lib = ModelLibrary.from_files(
            args.paths,
            metadata=args.metadata,
            on=args.on,
            S=args.windows,
            B=args.bins,
            value_range=args.value_range,
            n_jobs=args.jobs,
        )
        new_errors = lib.errors
        print(f"described {len(lib)} model(s)")
        _report_errors(new_errors)
    if len(lib) == 0:
        _err("no model could be described; nothing written")
        return EXIT_PARTIAL
    lib.save(out)
    lo, hi = lib.value_range
    print(
        f"wrote {out}: {len(lib)} models, {lib.S}x{lib.B} descriptors, value range "
        f"[{lo:.4g}, {hi:.4g}], {len(new_errors)} failed, {time.perf_counter() - start:.1f} s"
    )
    return EXIT_PARTIAL if len(new_errors) else EXIT_OK


def cmd_project(args: argparse.Namespace) -> int:
    lib = _library_file(args.library)
    if len(lib) < 3:
        raise UsageError(f"{args.library}: a projection needs at least 3 models, it has {len(lib)}")
    start = time.perf_counter()
    lib.project(
        method=args.method,
        n_neighbors=args.neighbors,
        min_dist=args.min_dist,
        pca_components=None if args.pca == 0 else args.pca,
        random_state=args.seed,
        representation=args.representation,
    )
    out = Path(args.output or args.library)
    lib.save(out)
    print(
        f"projected {len(lib)} models ({args.method} on {lib.representation}) in "
        f"{time.perf_counter() - start:.1f} s"
    )
    print(f"wrote {out}")
    return EXIT_OK


def cmd_locate(args: argparse.Namespace) -> int:
    import numpy as np
    import pandas as pd

    from .library import expand_paths
    from .library.executor import error_text

    lib = _library_file(args.library)
    if lib.embedding is None:
        raise UsageError(f"{args.library}: not projected yet; run `miwd project {args.library}`")
    files = expand_paths(args.files)
    if not (lib.attrs.get("representation") or {}).get("descriptors", True):
        # not the library's descriptors: each file through the atlas' own representation
        tables, failed = [], 0
        for f in files:
            try:
                one = lib.locate(str(f), k=args.k, placement=args.placement)
            except Exception as exc:  # noqa: BLE001 - report every bad file, go on
                _err(f"failed: {error_text(exc)}")
                failed += 1
            else:
                tables.append(one.assign(query=len(tables)))
        if not tables:
            _err("no model could be placed")
            return EXIT_PARTIAL
        table = pd.concat(tables, ignore_index=True)
    else:
        descriptors, names, failed = [], [], 0
        for f in files:
            try:
                descriptors.append(np.asarray(lib.describe(str(f))))
                names.append(str(f))
            except Exception as exc:  # noqa: BLE001 - report every bad file, go on
                _err(f"failed: {error_text(exc)}")
                failed += 1
        if not descriptors:
            _err("no model could be described")
            return EXIT_PARTIAL
        table = lib.locate_descriptors(
            np.stack(descriptors), names, k=args.k, placement=args.placement
        )
    shown = table.assign(distance=table["distance"].round(5))
    with pd.option_context("display.width", 200, "display.max_rows", 1000):
        print(shown.to_string(index=False))
    return EXIT_PARTIAL if failed else EXIT_OK


def cmd_zoo_train(args: argparse.Namespace) -> int:
    try:
        from .zoo import train_zoo
    except ImportError as exc:
        _err(f"the zoo needs PyTorch (pip install torch==2.13.0, the CPU build): {exc}")
        return EXIT_PARTIAL
    start = time.perf_counter()
    options: dict[str, Any] = {}
    if args.datasets:
        options["datasets"] = [d.strip() for d in args.datasets.split(",") if d.strip()]
    if args.max_epochs is not None:
        options["max_epochs"] = args.max_epochs
    if args.max_train is not None:
        options["max_train"] = args.max_train
    if args.group_size is not None:
        options["group_size"] = args.group_size
    table = train_zoo(args.n, args.output, seed=args.seed, n_jobs=args.jobs, **options)
    print(
        f"zoo {args.output}: {len(table)} models in {time.perf_counter() - start:.0f} s; "
        f"build a library with `miwd build {args.output}/models -o lib.parquet "
        f"--metadata {args.output}/metadata.csv`, or in Python with "
        f"ModelLibrary.from_zoo({str(args.output)!r}) (snapshots=True for training paths)"
    )
    return EXIT_OK if len(table) >= args.n else EXIT_PARTIAL


def _demo_models(folder: Path) -> list[Path]:
    """A few small models in different formats, written for the demo."""
    import numpy as np
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    paths = []
    mlp = {
        "l00.weight": rng.normal(0, 0.3, (64, 32)).astype(np.float32),
        "l00.bias": np.zeros(64, np.float32),
        "l01.weight": rng.normal(0, 0.1, (10, 64)).astype(np.float32),
        "l01.bias": np.zeros(10, np.float32),
    }
    save_file(mlp, str(folder / "mlp.safetensors"))
    paths.append(folder / "mlp.safetensors")
    np.save(folder / "flat_theta.npy", rng.uniform(-0.2, 0.2, 5000).astype(np.float64))
    paths.append(folder / "flat_theta.npy")
    np.savez(
        folder / "conv.npz",
        conv=rng.normal(0, 0.05, (16, 3, 3, 3)),
        fc=rng.laplace(0, 0.05, (10, 256)),
    )
    paths.append(folder / "conv.npz")
    try:
        import torch

        # The same cnn.pt (and distances) on every run, the caller's torch RNG left alone.
        with torch.random.fork_rng():
            torch.manual_seed(0)
            net = torch.nn.Sequential(
                torch.nn.Conv2d(1, 8, 3),
                torch.nn.ReLU(),
                torch.nn.Flatten(),
                torch.nn.LazyLinear(10),
            )
            net(torch.zeros(1, 1, 8, 8))  # materialize the lazy layer
        torch.save(net.state_dict(), folder / "cnn.pt")
        paths.append(folder / "cnn.pt")
    except ImportError:
        pass
    return paths


def _next_step_paths() -> tuple[str, str]:
    """The jupyter command and the quick-start notebook, as absolute paths.

    Absolute, because ``make -C checkout demo`` runs in the checkout while the user's shell
    is elsewhere: a path relative to the command's working directory would be wrong there.
    The jupyter next to this interpreter (``make demo`` runs from a virtualenv not on PATH);
    the notebook of the source checkout when the package runs from one, else its path in
    the repository.
    """
    jupyter = Path(sys.executable).with_name("jupyter")
    command = str(jupyter.absolute()) if jupyter.exists() else "jupyter"
    notebook = Path(__file__).resolve().parents[2] / "notebooks" / QUICKSTART
    shown = str(notebook) if notebook.is_file() else f"notebooks/{QUICKSTART}"
    return command, shown


def cmd_demo(args: argparse.Namespace) -> int:
    from . import descriptors as _descriptors
    from .library import load_demo_library

    with tempfile.TemporaryDirectory(prefix="miwd-demo-") as tmp:
        files = _demo_models(Path(tmp))
        print(
            f"1) MI-WD descriptors of {len(files)} models in different formats "
            f"({', '.join(f.suffix for f in files)}), S=B=32, shared 'auto' range:"
        )
        d = _descriptors.describe([str(f) for f in files], S=32, B=32, value_range="auto")
        lo, hi = d.value_range
        print(f"   value range [{lo:.3g}, {hi:.3g}]; each picture: 8 rows of 4 windows, 32 bins")
        for f, desc, n in zip(files, d, d.n_weights, strict=True):
            print(f"\n   {f.name}: N={int(n):,} weights")
            print("   " + render_descriptor(desc, rows=8).replace("\n", "\n   "))
        print("\n2) The demo library shipped with the package:")
        start = time.perf_counter()
        lib = load_demo_library()
        print(f"   {lib!r}, loaded in {time.perf_counter() - start:.2f} s")
        located = lib.locate([str(f) for f in files], k=DEMO_NEIGHBORS)
        # The page labels each placed model by its file name (the temporary folder goes).
        located["query_name"] = [Path(name).name for name in located["query_name"]]
        print("   nearest demo-library model of each file (euclidean descriptor distance):")
        for row in located[located["rank"] == 1].itertuples():
            print(f"   {row.query_name:>20} -> {row.id} (distance {row.distance:.3f})")
    out = Path(args.output).resolve()
    try:
        from .widget import Atlas
    except ImportError as exc:
        print(f"\n3) the atlas widget is not available ({exc}); skipped {out}")
    else:
        atlas = Atlas(lib)
        atlas.show_located(located)  # as Atlas.locate: markers and lines to the neighbours
        atlas.save_html(out)
        print(
            f"\n3) wrote the standalone atlas {out} (open it in a browser): the {len(files)} "
            f"models are the labelled triangles, with lines to their {DEMO_NEIGHBORS} nearest"
        )
    jupyter, notebook = _next_step_paths()
    print(f"\nNext: open the quick-start notebook in JupyterLab:\n   {jupyter} lab {notebook}")
    return EXIT_OK


# --------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The ``miwd`` argument parser.

    Examples
    --------
    >>> build_parser().parse_args(["locate", "lib.parquet", "m.safetensors", "-k", "3"]).k
    3
    """
    parser = argparse.ArgumentParser(
        prog="miwd",
        description="Model-invariant weight distribution (MI-WD) descriptors: describe models, "
        "build and project model libraries, place new models in an atlas.",
        epilog="Exit codes: 0 success, 1 some models failed, 2 usage errors or bad paths.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "describe",
        help="print the MI-WD descriptors of model files",
        description="Compute MI-WD descriptors of model files (.safetensors, .pt, .onnx, "
        ".npz, .npy, .keras/.h5, NWS .bin) with one shared value range and print them as text "
        "pictures (one line per window, one character pair per bin) or save them with --out.",
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="model files, folders or globs")
    _descriptor_options(p)
    p.add_argument("--rows", type=_positive, default=16, help="lines per picture (default 16)")
    p.add_argument("--out", metavar="NPY", help="save the (n, S, B) descriptors to a .npy file")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.set_defaults(func=cmd_describe)

    p = sub.add_parser(
        "build",
        help="build a model library (Parquet) from model files",
        description="Describe model files in parallel and save a library (one Parquet file). "
        "If OUTPUT exists, only models not in it yet are added (unless --overwrite).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="model files, folders or globs")
    p.add_argument("-o", "--output", required=True, help="library file (.parquet)")
    p.add_argument("--metadata", help="table (.csv/.tsv/.parquet) joined to the files")
    p.add_argument("--on", choices=["path", "id"], default="path", help="join column")
    _descriptor_options(p)
    p.add_argument("--jobs", type=int, default=-1, help="worker processes (default: all cores)")
    p.add_argument("--overwrite", action="store_true", help="rebuild even if OUTPUT exists")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser(
        "project",
        help="compute the 2-D atlas (UMAP) of a library",
        description="Project a library's descriptors to 2-D (PCA then UMAP by default) and "
        "save the embedding in the library file (or --output).",
    )
    p.add_argument("library", help="library file (.parquet)")
    p.add_argument("--method", choices=["umap", "pca"], default="umap")
    p.add_argument("--neighbors", type=_positive, default=15, help="UMAP n_neighbors (15)")
    p.add_argument("--min-dist", type=float, default=0.1, help="UMAP min_dist (0.1)")
    p.add_argument("--pca", type=int, default=50, help="PCA components before UMAP, 0: none")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    p.add_argument(
        "--representation",
        default="miwd",
        help="lay the atlas out on this representation: miwd (the descriptors, default), "
        "stats, window-moments, layer-quintiles, raw, pca, random, ... (reads the weight files)",
    )
    p.add_argument("-o", "--output", help="write here instead of updating LIBRARY")
    p.set_defaults(func=cmd_project)

    p = sub.add_parser(
        "locate",
        help="place model files in a projected library's atlas",
        description="Describe model files on the library's grid (or in the representation the "
        "atlas is laid out on) and list, per file, its atlas position and its k nearest library "
        "models (euclidean distance of descriptors).",
    )
    p.add_argument("library", help="projected library file (.parquet)")
    p.add_argument("files", nargs="+", metavar="FILE", help="model files, folders or globs")
    p.add_argument("-k", type=_positive, default=5, help="neighbours per model (5)")
    p.add_argument(
        "--placement",
        choices=["auto", "neighbors", "transform"],
        default="auto",
        help="atlas position: neighbours' weighted mean, or UMAP transform (refits UMAP)",
    )
    p.set_defaults(func=cmd_locate)

    p = sub.add_parser("zoo", help="train a zoo of small CNNs (needs torch)")
    zoo = p.add_subparsers(dest="zoo_command", metavar="ZOO_COMMAND", required=True)
    t = zoo.add_parser(
        "train",
        help="train N NWS-like CNNs into a zoo directory",
        description="Train N small CNNs, every hyper-parameter drawn per model as in NWS, on "
        "five offline 16x16x3 tasks; writes zoo.json, metadata.csv, models/*.safetensors, "
        "snapshots.csv and snapshots/ (one per epoch). Rerun to resume.",
    )
    t.add_argument("-n", type=_positive, required=True, help="number of models")
    t.add_argument("-o", "--output", required=True, help="zoo directory")
    t.add_argument("--seed", type=int, default=0, help="sampler seed (0)")
    t.add_argument("--jobs", type=_positive, default=2, help="worker processes (2)")
    t.add_argument("--datasets", help="comma-separated subset of the tasks (default: all)")
    t.add_argument("--max-epochs", type=_positive, help="epoch limit (early stopping)")
    t.add_argument("--max-train", type=_positive, help="cap on the images of every split")
    t.add_argument(
        "--group-size",
        type=_positive,
        help="largest group trained as one stacked network (default: 3 at batch 32, 2 at 64, "
        "else 1)",
    )
    t.set_defaults(func=cmd_zoo_train)

    p = sub.add_parser(
        "demo",
        help="describe a few models, load the demo library, write atlas.html",
        description="Describe a few small models of different formats, load the demo "
        "library, place the models in it and write a standalone atlas page.",
    )
    p.add_argument("-o", "--output", default="atlas.html", help="atlas page (atlas.html)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``miwd``; returns the exit code (0 ok, 1 partial failure, 2 usage error).

    Examples
    --------
    >>> main(["describe", "no/such/file.safetensors"])  # doctest: +SKIP
    2
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or argparse usage errors (2)
        return int(exc.code or 0)
    try:
        return int(args.func(args))
    except (UsageError, OSError, ValueError) as exc:  # bad paths, files or arguments
        _err(f"error: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line, no traceback
        from .library.executor import error_text

        _err(f"error: {error_text(exc)}")
        return EXIT_PARTIAL


if __name__ == "__main__":
    sys.exit(main())
