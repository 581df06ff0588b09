"""Build the demo library shipped in the package from a zoo: from_zoo -> project -> save.

The weights are not shipped: the absolute ``source`` paths are dropped (the zoo-relative
``path`` column stays, so a copy of the zoo can be re-attached), and error sources are made
relative to the zoo. The zoo's own config (zoo.json) is kept in ``attrs["zoo"]``; how the
demo was built is in ``attrs["demo"]``.

    python scripts/build_demo_library.py /work/zoos/zoo-2000 \
        [-o src/miwd_widget/data/demo_library.parquet] [--jobs -1]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

from miwd_widget import ModelLibrary, __version__

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "src" / "miwd_widget" / "data"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("zoo", help="zoo directory written by miwd_widget.zoo (miwd zoo train)")
    p.add_argument("-o", "--output", default=str(DEFAULT_OUT / "demo_library.parquet"))
    p.add_argument("--jobs", type=int, default=-1, help="worker processes (all cores)")
    args = p.parse_args()
    zoo = Path(args.zoo).resolve()

    t0 = time.perf_counter()
    lib = ModelLibrary.from_zoo(zoo, n_jobs=args.jobs)
    t_build = time.perf_counter() - t0
    print(f"described {len(lib)} models in {t_build:.1f} s ({len(lib.errors)} failed)")
    t0 = time.perf_counter()
    lib.project()
    t_project = time.perf_counter() - t0
    print(f"projected in {t_project:.1f} s (PCA 50 + UMAP, random_state=0)")

    lib.metadata = lib.metadata.drop(columns=["source"], errors="ignore")
    lib.errors["source"] = [
        os.path.relpath(s, zoo) if os.path.isabs(s) else s for s in lib.errors["source"]
    ]
    settings = lib.attrs.get("zoo", {}).get("settings", {})
    lib.attrs["demo"] = {
        "zoo": zoo.name,
        "zoo_seed": settings.get("seed"),
        "zoo_settings": settings,
        "command": f"miwd zoo train -n {settings.get('n')} -o {zoo.name} --seed "
        f"{settings.get('seed')}; python scripts/build_demo_library.py {zoo.name}",
        "built_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "miwd_widget_version": __version__,
        "python": platform.python_version(),
        "describe_seconds": round(t_build, 1),
        "project_seconds": round(t_project, 1),
        "weights_shipped": False,
    }
    out = lib.save(args.output)
    size = out.stat().st_size
    t0 = time.perf_counter()
    back = ModelLibrary.load(out)
    t_load = time.perf_counter() - t0
    print(f"wrote {out}: {size / 1e6:.2f} MB, {back!r}, loads in {t_load:.2f} s")


if __name__ == "__main__":
    main()
