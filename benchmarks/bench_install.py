"""The core install: its size on disk and how long it takes, in a fresh virtual environment.

Usage::

    python benchmarks/bench_install.py [--extras evaluate] [--keep DIR]

Builds the wheel from this checkout (``pip wheel --no-deps``, as ``make wheel``), creates a
fresh virtual environment, installs the wheel there (pip resolves the dependencies from the
configured index; nothing of this checkout's environment is visible), then prints the wall
times, the size of site-packages (``du``, pip itself included) and its largest packages. The
times depend on the network and the machine's load; the size does not.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def du_mb(path: Path) -> float:
    """Disk usage in MB, as ``du -s`` counts it (allocated blocks, hard links once)."""
    out = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True)
    return int(out.stdout.split()[0]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extras", default="", help="extras to install too, e.g. evaluate")
    parser.add_argument("--keep", type=Path, help="build in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="miwd-install-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PYTHONNOUSERSITE"] = "1"

    start = time.perf_counter()
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
        check=True,
    )
    (wheel,) = dist.glob("miwd_widget-*.whl")
    built = time.perf_counter() - start

    venv = work / "venv"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    python = venv / "bin" / "python"
    spec = f"{wheel}[{args.extras}]" if args.extras else str(wheel)
    subprocess.run([str(python), "-m", "pip", "install", "-q", spec], check=True, env=env)
    installed = time.perf_counter() - start

    site = next((venv / "lib").glob("python3*/site-packages"))
    sizes = sorted(((du_mb(p), p.name) for p in site.iterdir()), reverse=True)
    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout.split()
    print(f"wheel {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB, built in {built:.1f} s")
    print(
        f"fresh venv + install{' [' + args.extras + ']' if args.extras else ''}: {installed:.0f} s"
    )
    print(f"site-packages: {du_mb(site):.0f} MB, {len(listed)} distributions (pip included)")
    print("largest:", ", ".join(f"{name} {mb:.0f} MB" for mb, name in sizes[:8]))
    torch = any(line.lower().startswith("torch==") for line in listed)
    print(f"torch installed: {torch}")
    if not args.keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)


if __name__ == "__main__":
    main()
