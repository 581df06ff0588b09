"""Column codec cost: ``encode_column`` on one column of each kind, and its payload size.

Usage::

    python benchmarks/bench_codec.py [--rows 1000000] [--repeats 5]

Prints, per column kind, the best wall time over ``--repeats`` runs, the dtype it travels
as and its bytes per row (values plus any missing-value mask). The machine may be shared:
report the load with any figure.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from miwd_widget.widget.codec import array_from_json, encode_column


def columns(n: int) -> dict[str, pd.Series]:
    rng = np.random.default_rng(0)
    some_missing = rng.random(n) < 0.1
    return {
        "float64 -> float32": pd.Series(rng.random(n)),
        "int64 in int32 range": pd.Series(rng.integers(0, 2**31 - 1, n)),
        "int64 beyond 2^53": pd.Series(rng.integers(2**60, 2**62, n)),
        "Int64, 10% missing": pd.Series(
            pd.array(np.where(some_missing, None, rng.integers(0, 100, n)), dtype="Int64")
        ),
        "datetime64": pd.Series(
            pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**9, n), unit="s")
        ),
        "strings (categorical)": pd.Series(rng.choice(["adam", "sgd", "rmsprop"], n)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.rows:,} rows, best of {args.repeats}")
    for name, series in columns(args.rows).items():
        best = float("inf")
        for _ in range(args.repeats):
            start = time.perf_counter()
            encoded = encode_column(series)
            best = min(best, time.perf_counter() - start)
        key = "values" if "values" in encoded else "codes"
        arr = array_from_json(encoded[key])
        size = arr.nbytes + (
            array_from_json(encoded["missing"]).nbytes
            if isinstance(encoded.get("missing"), dict)
            else 0
        )
        print(
            f"{name:24s} {best * 1000:8.1f} ms  {arr.dtype.name:8s} {size / args.rows:5.1f} B/row"
        )


if __name__ == "__main__":
    main()
