"""Library files under faults: a full disk, a killed writer, two writers, damaged files.

A save, an ``add`` saved over its library, or a chunked build that runs out of space
(the file size limit) or is killed (SIGKILL after random delays) leaves the previous
library whole and loadable with its clusters, and says which path failed and why; two
writers of one path leave one of their libraries whole; of two chunked builds of one path
at once, one builds it whole and the other is refused by name; a truncated or edited file is
refused by name. The writers run in forked child processes (see storage_faults.py);
``benchmarks/bench_fuzz.py`` runs more of these cases and counts them by outcome.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import storage_faults  # noqa: E402

from miwd_widget.library import ModelLibrary, storage  # noqa: E402

SEED = 20261207


@pytest.fixture(scope="module")
def writers():
    runner = storage_faults.Writers()
    yield runner
    runner.close()


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, writers):
    """A matrix for chunked builds, the library an uninterrupted build makes of it, and
    how long that build takes in a writer."""
    folder = tmp_path_factory.mktemp("matrix")
    path = folder / "weights.npy"
    np.save(path, np.random.default_rng(SEED).normal(size=(256, 300)).astype(np.float32))
    reference, seconds = storage_faults.timed_build(writers, path, 8, folder / "ref.parquet")
    return path, reference, seconds


def _assert_good(results: list[tuple[str, str]]) -> None:
    bad = [f"{outcome}: {detail}" for outcome, detail in results if outcome in storage_faults.BAD]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("layout", ["inline", "sidecar"])
def test_a_save_out_of_space_leaves_the_previous_library(tmp_path, writers, layout):
    # limits at the start, middle and end of each file the save writes, and one it fits
    limits = storage_faults.full_disk_limits(storage_faults.sizes(tmp_path / "s", 5, layout))
    job = {"kind": "save", "seed": 5, "layout": layout}
    results = [
        storage_faults.full_disk(writers, tmp_path / f"{k}", {**job, "limit": limit})
        for k, limit in enumerate(limits)
    ]
    _assert_good(results)
    outcomes = [outcome for outcome, _ in results]
    assert outcomes == ["previous whole"] * (len(limits) - 1) + ["new whole"], results
    assert "cannot save the library: File too large" in results[0][1]


def test_an_add_saved_out_of_space_leaves_the_previous_library(tmp_path, writers):
    size = max(storage_faults.sizes(tmp_path / "s", 100, "sidecar"))
    results = [
        storage_faults.full_disk(
            writers,
            tmp_path / f"{k}",
            {"kind": "add", "seed": 3, "layout": "sidecar", "limit": limit},
        )
        for k, limit in enumerate([0, size // 2, 10 * size])
    ]
    _assert_good(results)
    assert [outcome for outcome, _ in results] == ["previous whole"] * 2 + ["new whole"]


def test_a_chunked_build_out_of_space_leaves_the_previous_library_and_resumes(
    tmp_path, writers, matrix
):
    weights, reference, _ = matrix
    # 0: the manifest fails; 3000: the parts fit, the library's files do not
    for k, limit in enumerate([0, 3000]):
        job = {"kind": "chunked", "matrix": str(weights), "chunk_rows": 8, "limit": limit}
        outcome, detail = storage_faults.full_disk(writers, tmp_path / f"{k}", job)
        assert outcome == "previous whole", detail
        assert "File too large" in detail
        path = tmp_path / f"{k}" / "lib.parquet"
        resumed = storage_faults.matrix_build(weights, 8, path)
        assert storage_faults.same(resumed, reference)
        assert not path.with_name("lib.parquet.parts").exists()


@pytest.mark.parametrize("layout", ["inline", "sidecar"])
def test_a_killed_save_leaves_one_whole_library(tmp_path, writers, layout):
    rng = random.Random(f"{SEED}-{layout}")
    results = [
        storage_faults.killed_save(
            writers, tmp_path / f"{k}", layout, rng.uniform(0.0, 0.15), [1000 + k, 2000 + k]
        )
        for k in range(5)
    ]
    _assert_good(results)


def test_a_killed_chunked_build_leaves_the_previous_library_and_resumes(tmp_path, writers, matrix):
    weights, reference, seconds = matrix
    results = [
        storage_faults.killed_build(writers, tmp_path / f"{k}", weights, 8, at * seconds, reference)
        for k, at in enumerate([0.2, 0.5])  # of the time an uninterrupted build takes
    ]
    _assert_good(results)
    # at least one kill came before the build's end (timings on a busy machine vary)
    assert "previous whole" in [outcome for outcome, _ in results], results


@pytest.mark.parametrize(
    "layouts", [("inline", "inline"), ("sidecar", "sidecar"), ("inline", "sidecar")]
)
def test_two_writers_of_one_path_leave_one_whole_library(tmp_path, writers, layouts):
    # and a reader meanwhile loads one of the two whole every time
    outcome, detail = storage_faults.two_writers(
        writers, tmp_path / "w", layouts, rounds=50, reads=100
    )
    assert outcome == "one of the two whole", detail


def test_two_chunked_builds_of_one_path_at_once_leave_the_library_whole(tmp_path, writers, matrix):
    weights, reference, _ = matrix
    results = [
        storage_faults.two_builds(writers, tmp_path / f"{k}", weights, 4, reference)
        for k in range(2)
    ]
    _assert_good(results)
    # the builds overlapped at least once (they start together; a busy machine may not)
    assert "one built, one refused" in [outcome for outcome, _ in results], results


# --------------------------------------------------------------------------------------
# What a fault can leave: truncated files, an edited sidecar, temporary files
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["inline", "sidecar"])
def test_a_truncated_library_file_is_refused_by_name(tmp_path, layout):
    path = storage_faults.library(1).save(tmp_path / "lib.parquet", layout)
    whole = path.read_bytes()
    for cut in (0, 4, len(whole) // 3, len(whole) - 9, len(whole) - 1):
        path.write_bytes(whole[:cut])
        with pytest.raises(ValueError, match="not a readable Parquet file") as info:
            ModelLibrary.load(path)
        assert str(info.value).startswith(f"{path}: ")


def test_a_truncated_or_edited_sidecar_is_refused_by_name(tmp_path):
    lib = storage_faults.library(1)
    path = lib.save(tmp_path / "lib.parquet", "sidecar")
    side = tmp_path / storage_faults.sidecar_name(path)
    whole = side.read_bytes()
    for cut in (0, 64, len(whole) // 2, len(whole) - 1):
        side.write_bytes(whole[:cut])
        for verify in (None, False):  # the size is checked even without the digest
            with pytest.raises(ValueError, match=f"its descriptor file {side.name} has") as info:
                ModelLibrary.load(path, verify=verify)
            assert str(info.value).startswith(f"{path}: ")
    edited = bytearray(whole)
    edited[len(whole) // 2] ^= 0x10  # same size, one value changed
    side.write_bytes(bytes(edited))
    with pytest.raises(ValueError, match="does not match the digest the library records"):
        ModelLibrary.load(path)
    side.write_bytes(whole)
    assert storage_faults.same(ModelLibrary.load(path), lib)


def test_temporary_files_are_never_loaded_as_libraries_and_are_cleaned(tmp_path, writers):
    path = tmp_path / "lib.parquet"
    # saved by a writer that has ended since: its process id is a dead one
    (dead,) = writers.start({"kind": "save", "seed": 1, "layout": "inline", "path": str(path)})
    assert writers.finish()[1] == [0]
    whole, alive = path.read_bytes(), os.getpid()
    half = tmp_path / f".lib.parquet.{dead}-0a1b2c3d.tmp"  # a save killed mid-write
    half.write_bytes(whole[: len(whole) // 2])
    side = tmp_path / f".lib.parquet.{dead}-0a1b2c3d.npy.tmp"
    side.write_bytes(b"\x93NUMPY partial")
    live = tmp_path / f".lib.parquet.{alive}-0a1b2c3d.tmp"  # a save under way
    live.write_bytes(whole[:100])
    for partial in (half, side, live):
        with pytest.raises(ValueError, match="not a readable Parquet file") as info:
            ModelLibrary.load(partial)
        assert str(info.value).startswith(f"{partial}: ")
    assert sorted(storage.remove_stale_files(path)) == sorted([half, side])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, path.name])
