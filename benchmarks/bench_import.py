"""Start-up cost: ``import miwd_widget`` and ``miwd --help`` in fresh interpreters.

Usage::

    python benchmarks/bench_import.py [--repeats 5]

Prints the best wall time of each over ``--repeats`` fresh processes (the interpreter's own
start-up included, measured alone as the baseline) and which heavy dependencies the import
pulled in. Target: under 0.5 s each.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("numpy", "pandas", "numba", "torch", "umap", "sklearn", "anywidget", "pyarrow")


def best_of(command: list[str], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    python = sys.executable
    miwd = shutil.which("miwd", path=str(Path(python).parent)) or "miwd"
    baseline = best_of([python, "-c", "pass"], args.repeats)
    t_import = best_of([python, "-c", "import miwd_widget"], args.repeats)
    t_help = best_of([miwd, "--help"], args.repeats)
    probe = f"import miwd_widget, sys, json; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    loaded = json.loads(
        subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout
    )
    print(f"{'python -c pass':<26}{baseline:>8.3f} s")
    print(f"{'import miwd_widget':<26}{t_import:>8.3f} s")
    print(f"{'miwd --help':<26}{t_help:>8.3f} s")
    print(f"heavy modules after import: {', '.join(loaded) or 'none'}")


if __name__ == "__main__":
    main()
