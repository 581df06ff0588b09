"""Chunked, resumable builds: exact against the in-memory path, an interrupted build resumes
without recomputing finished chunks, a second build of the same path at once is refused, and
the same build on a dask LocalCluster."""

from __future__ import annotations

import json
import os
import threading

import numpy as np
import pandas as pd
import pytest

from miwd_widget.descriptors.config import DescriptorConfig
from miwd_widget.library import ModelLibrary
from miwd_widget.library.chunked import BuildInProgressError, matrix_chunks

S, B = 4, 8
ROWS, N = 230, 120


@pytest.fixture()
def matrix(tmp_path):
    """A replica matrix: rows from 3 scale groups, one NaN row, one all-zeros row."""
    rng = np.random.default_rng(0)
    group = rng.integers(0, 3, ROWS)
    x = rng.normal(0, 1, (ROWS, N)).astype(np.float32) * (0.05 * (1 + group))[:, None]
    x[:, : N // 3] += 0.02 * group[:, None]  # a depth profile that differs by group
    x = x.astype(np.float32)
    x[17, 5] = np.nan
    x[40] = 0.0
    path = tmp_path / "weights.npy"
    np.save(path, x)
    meta = pd.DataFrame({"id": [f"r{i}" for i in range(ROWS)], "group": group})
    return path, x, meta


class Spy:
    """A chunk that counts reads of its weights and can fail on them (by default as
    Ctrl-C does: an interruption; any other error is a failed chunk, recorded)."""

    def __init__(self, chunk, reads, fail_on_read=0, error=KeyboardInterrupt):
        self.chunk, self.reads, self.fail_on_read = chunk, reads, fail_on_read
        self.error = error
        self.key, self.source, self.metadata = chunk.key, chunk.source, chunk.metadata
        self.start, self.n_weights = chunk.start, chunk.n_weights
        self.n_reads = 0

    def theta(self):
        self.n_reads += 1
        if self.n_reads == self.fail_on_read:
            raise self.error("interrupted")
        self.reads.append(self.key)
        return self.chunk.theta()

    def __len__(self):
        return len(self.chunk)


@pytest.mark.parametrize("value_range", ["auto", (-0.2, 0.2)])
def test_chunked_build_equals_the_in_memory_build(tmp_path, matrix, value_range):
    path, x, meta = matrix
    chunks = matrix_chunks(path, meta, chunk_rows=64)
    assert [len(c) for c in chunks] == [64, 64, 64, 38]
    lib = ModelLibrary.from_chunks(
        chunks, tmp_path / "lib.parquet", S=S, B=B, value_range=value_range
    )
    ref = ModelLibrary.from_models(
        list(x), meta, names=list(meta["id"]), S=S, B=B, value_range=value_range
    )
    assert lib.value_range == ref.value_range
    np.testing.assert_array_equal(lib.descriptors, ref.descriptors)
    assert lib.metadata["id"].tolist() == ref.metadata["id"].tolist()  # r17 (NaN) left out
    assert "r17" not in lib.metadata["id"].tolist() and len(lib) == ROWS - 1
    assert lib.metadata["n_params"].eq(N).all() and lib.metadata["source"].eq(str(path)).all()
    np.testing.assert_array_equal(lib.metadata["group"], ref.metadata["group"])
    # the NaN row is an error naming the matrix and the row; all-zeros is a range warning
    errors = lib.errors["error"].tolist()
    nan_error = [e for e in errors if "NaN" in e]
    assert len(nan_error) == 1 and nan_error[0].startswith(f"{path}: row 17: theta holds 1 NaN")
    degenerate = [e for e in errors if "degenerate" in e]
    assert len(degenerate) == (1 if value_range == "auto" else 0)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("lib.parquet")) == [
        "lib.parquet",
        next(p.name for p in tmp_path.glob("lib.parquet.*.descriptors.npy")),
    ]  # the parts folder is gone
    assert not lib.descriptors.flags.writeable  # memory-mapped from the sidecar


def test_an_interrupted_build_resumes_without_recomputing_finished_chunks(tmp_path, matrix):
    path, _, meta = matrix
    whole = ModelLibrary.from_chunks(
        matrix_chunks(path, meta, 50), tmp_path / "whole.parquet", S=S, B=B
    )
    reads: list[str] = []
    k = 3  # the 4th chunk fails when it is described (its 2nd read: the 1st was for the range)
    chunks = [
        Spy(c, reads, fail_on_read=2 if i == k else 0)
        for i, c in enumerate(matrix_chunks(path, meta, 50))
    ]
    out = tmp_path / "resumed.parquet"
    with pytest.raises(KeyboardInterrupt, match="interrupted"):
        ModelLibrary.from_chunks(chunks, out, S=S, B=B)
    assert not out.exists()
    parts = sorted(p.name for p in (tmp_path / "resumed.parquet.parts").iterdir())
    assert [p for p in parts if p.endswith(".json") and p != "manifest.json"] == [
        f"{i:06d}.json" for i in range(k)
    ]
    finished = {c.key for c in chunks[:k]}
    reads.clear()
    chunks = [Spy(c, reads) for c in matrix_chunks(path, meta, 50)]
    lib = ModelLibrary.from_chunks(chunks, out, S=S, B=B)
    # only the unfinished chunks were read again (the range came from the manifest)
    assert sorted(reads) == sorted(c.key for c in chunks if c.key not in finished)
    np.testing.assert_array_equal(lib.descriptors, whole.descriptors)
    pd.testing.assert_frame_equal(lib.metadata, whole.metadata)
    pd.testing.assert_frame_equal(lib.errors, whole.errors)
    assert lib.value_range == whole.value_range


def test_parts_of_a_different_build_are_not_mixed_in(tmp_path, matrix):
    path, _, meta = matrix
    chunks = [
        Spy(c, [], fail_on_read=2 if i == 1 else 0)
        for i, c in enumerate(matrix_chunks(path, meta, 100))
    ]
    with pytest.raises(KeyboardInterrupt):
        ModelLibrary.from_chunks(chunks, tmp_path / "lib.parquet", S=S, B=B)
    with pytest.raises(ValueError, match="lib.parquet.parts: holds the parts of a different build"):
        ModelLibrary.from_chunks(
            matrix_chunks(path, meta, 100), tmp_path / "lib.parquet", S=S, B=16
        )
    with pytest.raises(ValueError, match="different build"):
        ModelLibrary.from_chunks(matrix_chunks(path, meta, 64), tmp_path / "lib.parquet", S=S, B=B)


class Held:
    """A chunk whose weights are read only once ``release`` is set (a build in flight)."""

    def __init__(self, chunk, reading, release):
        self.chunk, self.reading, self.release = chunk, reading, release
        self.key, self.source, self.metadata = chunk.key, chunk.source, chunk.metadata
        self.start, self.n_weights = chunk.start, chunk.n_weights

    def theta(self):
        self.reading.set()
        assert self.release.wait(60), "the test never released the build"
        return self.chunk.theta()

    def __len__(self):
        return len(self.chunk)


def test_a_second_build_of_the_same_path_is_refused_while_one_runs(tmp_path, matrix):
    # (two processes: tests/fuzz/test_faults_storage.py; here the refusal, exactly)
    path, _, meta = matrix
    out, kw = tmp_path / "lib.parquet", dict(S=S, B=B, value_range=(-0.3, 0.3))
    whole = ModelLibrary.from_chunks(
        matrix_chunks(path, meta, 100), tmp_path / "whole.parquet", **kw
    )
    reading, release = threading.Event(), threading.Event()
    held = [Held(c, reading, release) for c in matrix_chunks(path, meta, 100)]
    built = {}
    first = threading.Thread(
        target=lambda: built.update(lib=ModelLibrary.from_chunks(held, out, **kw))
    )
    first.start()
    try:
        assert reading.wait(60)  # the first build holds the parts folder and reads a chunk
        with pytest.raises(BuildInProgressError) as info:
            ModelLibrary.from_chunks(matrix_chunks(path, meta, 100), out, **kw)
        parts = tmp_path / "lib.parquet.parts"
        assert str(info.value).startswith(f"{out}: another build of this library is under way")
        assert f"(process {os.getpid()} on " in str(info.value) and str(parts) in str(info.value)
    finally:
        release.set()
        first.join(60)
    np.testing.assert_array_equal(built["lib"].descriptors, whole.descriptors)
    pd.testing.assert_frame_equal(built["lib"].metadata, whole.metadata)
    assert not parts.exists()
    again = ModelLibrary.from_chunks(matrix_chunks(path, meta, 100), out, **kw)  # once it ended
    np.testing.assert_array_equal(again.descriptors, whole.descriptors)


def test_bad_matrices_are_refused_naming_the_file(tmp_path):
    np.save(tmp_path / "ints.npy", np.zeros((3, 4), np.int64))
    with pytest.raises(ValueError, match="ints.npy: expected a 2-D float matrix"):
        matrix_chunks(tmp_path / "ints.npy")
    (tmp_path / "junk.npy").write_bytes(b"junk")
    with pytest.raises(ValueError, match="junk.npy: cannot memory-map it"):
        matrix_chunks(tmp_path / "junk.npy")
    np.save(tmp_path / "ok.npy", np.zeros((3, 4), np.float32))
    with pytest.raises(ValueError, match="ok.npy: 3 rows, but the metadata has 2"):
        matrix_chunks(tmp_path / "ok.npy", pd.DataFrame({"id": ["a", "b"]}))


def test_the_same_build_on_a_dask_local_cluster(tmp_path, matrix, monkeypatch):
    import distributed  # the `dask` extra, installed in the dev environment

    path, _, meta = matrix
    ref = ModelLibrary.from_chunks(
        matrix_chunks(path, meta, 40), tmp_path / "here.parquet", S=S, B=B
    )
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        lib = ModelLibrary.from_chunks(
            matrix_chunks(path, meta, 40), tmp_path / "dask.parquet", S=S, B=B, client=client
        )
        # the file build's dask path too
        files = tmp_path / "files"
        files.mkdir()
        x = np.load(path)
        for i in range(12):
            np.save(files / f"m{i:02d}.npy", x[i + 50])
        on_dask = ModelLibrary.from_files(files, S=S, B=B, client=client, batch_size=3)
        # a chunk failing on a worker is recorded; the build goes on
        failing = [
            Spy(c, [], fail_on_read=1 if i == 2 else 0, error=OSError)
            for i, c in enumerate(matrix_chunks(path, meta, 40))
        ]
        partial = ModelLibrary.from_chunks(
            failing, tmp_path / "f.parquet", S=S, B=B, value_range=(-0.3, 0.3), client=client
        )
        # Ctrl-C while tasks are in flight: they are cancelled (chunked and file builds)
        from miwd_widget.library import chunked, executor

        cancelled = []
        real_cancel = client.cancel
        monkeypatch.setattr(
            client, "cancel", lambda fs: cancelled.append(len(fs)) or real_cancel(fs)
        )

        def ctrl_c(*args, **kwargs):
            raise KeyboardInterrupt

        with monkeypatch.context() as m:
            m.setattr(chunked, "_save_part", ctrl_c)
            with pytest.raises(KeyboardInterrupt):
                ModelLibrary.from_chunks(
                    matrix_chunks(path, meta, 20), tmp_path / "c.parquet", S=S, B=B, client=client
                )
        assert len(cancelled) == 1 and cancelled[0] >= 1  # the others in flight

        class Bar:
            def update(self, n):
                raise KeyboardInterrupt

            def close(self):
                pass

        with monkeypatch.context() as m:
            m.setattr(executor, "progress", lambda **kwargs: Bar())
            with pytest.raises(KeyboardInterrupt):
                ModelLibrary.from_files(files, S=S, B=B, client=client, batch_size=1)
        assert len(cancelled) == 2 and cancelled[1] >= 1
    assert len(partial) == ROWS - 40 - 1  # rows 80-119 failed; row 17 is NaN
    assert partial.errors.loc[partial.errors["source"] == f"{path}:80-120", "error"].tolist() == [
        "OSError: interrupted"
    ]
    np.testing.assert_array_equal(lib.descriptors, ref.descriptors)
    pd.testing.assert_frame_equal(lib.metadata, ref.metadata)
    assert lib.value_range == ref.value_range
    here = ModelLibrary.from_files(files, S=S, B=B, n_jobs=1)
    np.testing.assert_array_equal(on_dask.descriptors, here.descriptors)
    assert on_dask.value_range == here.value_range


def test_file_build_equals_describing_each_file(tmp_path):
    """float32 and float64 files of many sizes: the build equals describe() per file."""
    from miwd_widget import describe

    rng = np.random.default_rng(3)
    sizes = [40, 300, 5000, 70_000]
    for i, n in enumerate(sizes):
        np.save(tmp_path / f"m{i}.npy", rng.normal(0, 0.1, n).astype(np.float32))
    np.save(tmp_path / "m9.npy", rng.normal(0, 0.1, 64))  # float64
    lib = ModelLibrary.from_files(tmp_path, S=S, B=B, n_jobs=1)
    cfg = DescriptorConfig(S, B, lib.value_range)
    for i, name in enumerate(lib.metadata["id"]):
        expected = describe(np.load(tmp_path / f"{name}.npy"), cfg.S, cfg.B, cfg.value_range)
        np.testing.assert_array_equal(lib.descriptors[i], expected)
    assert lib.metadata["n_params"].tolist() == [*sizes, 64]


def test_small_cnn_zoo_chunks_build_as_from_cnn_zoo(tmp_path):
    """The CNN-zoo reader's chunks through the chunked writer: the same library."""
    from test_cnn_zoo import write_dataset  # the reader's own replica of the layout

    from miwd_widget.library.cnn_zoo import cnn_zoo_chunks

    root = tmp_path / "zoo"
    write_dataset(root / "mnist", "mnist", runs=5, seed=1)
    write_dataset(root / "cifar10", "cifar10", runs=4, seed=2)
    ref = ModelLibrary.from_cnn_zoo(root, S=S, B=B, value_range=(-0.3, 0.3))
    lib = ModelLibrary.from_chunks(
        cnn_zoo_chunks(root, chunk_rows=16),
        tmp_path / "zoo.parquet",
        S=S,
        B=B,
        value_range=(-0.3, 0.3),
    )
    np.testing.assert_array_equal(lib.descriptors, ref.descriptors)
    pd.testing.assert_frame_equal(lib.metadata, ref.metadata[lib.metadata.columns])
    auto = ModelLibrary.from_chunks(cnn_zoo_chunks(root, 16), tmp_path / "auto.parquet", S=S, B=B)
    assert auto.value_range == ModelLibrary.from_cnn_zoo(root, S=S, B=B).value_range


def _two_matrices(tmp_path, x):
    """A/w.npy and B/w.npy: the same name in two folders, different content."""
    paths = []
    for name, scale in (("A", 1.0), ("B", 3.0)):
        (tmp_path / name).mkdir()
        p = tmp_path / name / "w.npy"
        np.save(p, np.nan_to_num(x * scale))
        paths.append(p)
    return paths


def test_resume_never_mixes_in_parts_of_another_or_a_changed_matrix(tmp_path, matrix):
    _, x, _ = matrix
    a, b = _two_matrices(tmp_path, x)
    out = tmp_path / "lib.parquet"
    kw = dict(S=S, B=B, value_range=(-0.3, 0.3))
    spied = [
        Spy(c, [], fail_on_read=1 if i == 2 else 0)
        for i, c in enumerate(matrix_chunks(a, chunk_rows=64))
    ]
    with pytest.raises(KeyboardInterrupt):
        ModelLibrary.from_chunks(spied, out, **kw)
    # the same file name in another folder is another build (was: A's rows resumed)
    with pytest.raises(ValueError, match="different build"):
        ModelLibrary.from_chunks(matrix_chunks(b, chunk_rows=64), out, **kw)
    # A edited in place (same path, same shape): its parts are no longer its
    np.save(a, np.nan_to_num(x * 2.0))
    os.utime(a, ns=(1, 1))
    with pytest.raises(ValueError, match="different build"):
        ModelLibrary.from_chunks(matrix_chunks(a, chunk_rows=64), out, **kw)
    # both matrices in one build: unique keys, each row from its own matrix
    both = ModelLibrary.from_chunks(
        matrix_chunks(a, chunk_rows=100) + matrix_chunks(b, chunk_rows=100),
        tmp_path / "both.parquet",
        S=S,
        B=B,
        value_range=(-0.3, 0.3),
    )
    ref = ModelLibrary.from_models(
        list(np.load(a)) + list(np.load(b)), S=S, B=B, value_range=(-0.3, 0.3)
    )
    np.testing.assert_array_equal(both.descriptors, ref.descriptors)


def test_a_finished_part_with_other_metadata_is_described_again(tmp_path, matrix):
    path, x, meta = matrix
    out = tmp_path / "lib.parquet"
    chunks = [
        Spy(c, [], fail_on_read=1 if i == 1 else 0)
        for i, c in enumerate(matrix_chunks(path, meta, 100))
    ]
    with pytest.raises(KeyboardInterrupt):
        ModelLibrary.from_chunks(chunks, out, S=S, B=B, value_range=(-0.3, 0.3))
    renamed = meta.assign(group=meta["group"] + 10)
    reads: list[str] = []
    lib = ModelLibrary.from_chunks(
        [Spy(c, reads) for c in matrix_chunks(path, renamed, 100)],
        out,
        S=S,
        B=B,
        value_range=(-0.3, 0.3),
    )
    assert len(reads) == 3  # chunk 0's part was for the old metadata
    np.testing.assert_array_equal(lib.metadata["group"], renamed["group"].drop(17))


def test_a_failing_chunk_is_recorded_and_the_build_goes_on(tmp_path, matrix):
    path, x, meta = matrix
    out = tmp_path / "lib.parquet"
    kw = dict(S=S, B=B, value_range=(-0.3, 0.3))
    chunks = [
        Spy(c, [], fail_on_read=1 if i == 1 else 0, error=OSError)
        for i, c in enumerate(matrix_chunks(path, meta, 100))
    ]
    lib = ModelLibrary.from_chunks(chunks, out, **kw)
    assert len(lib) == ROWS - 100 - 1  # chunk 1 (rows 100-199) failed; row 17 is NaN
    assert lib.metadata["id"].tolist() == [
        f"r{i}" for i in range(ROWS) if not 100 <= i < 200 and i != 17
    ]
    failed = lib.errors[lib.errors["source"] == f"{path}:100-200"]
    assert failed["error"].tolist() == ["OSError: interrupted"]
    ref = ModelLibrary.from_models(list(x), meta, names=list(meta["id"]), **kw)
    keep = ~ref.metadata["id"].isin([f"r{i}" for i in range(100, 200)]).to_numpy()
    np.testing.assert_array_equal(lib.descriptors, ref.descriptors[keep])


def test_a_failed_chunk_is_retried_by_a_re_run(tmp_path, matrix, monkeypatch):
    from miwd_widget.library import chunked

    path, x, meta = matrix
    out = tmp_path / "lib.parquet"
    kw = dict(S=S, B=B, value_range=(-0.3, 0.3))
    parts = tmp_path / "lib.parquet.parts"
    chunks = [
        Spy(c, [], fail_on_read=1 if i == 1 else 0, error=OSError)
        for i, c in enumerate(matrix_chunks(path, meta, 100))
    ]
    # interrupted after the failure was recorded: the re-run retries the failed chunk
    real = chunked._save_part

    def stop_at_last(parts_dir, i, chunk, result):
        if i == 2:
            raise KeyboardInterrupt
        real(parts_dir, i, chunk, result)

    monkeypatch.setattr(chunked, "_save_part", stop_at_last)
    with pytest.raises(KeyboardInterrupt):
        ModelLibrary.from_chunks(chunks, out, **kw)
    monkeypatch.undo()
    assert json.loads((parts / "000001.json").read_text())["failed"] is True
    reads: list[str] = []
    lib = ModelLibrary.from_chunks(
        [Spy(c, reads) for c in matrix_chunks(path, meta, 100)], out, **kw
    )
    assert len(reads) == 2  # chunks 1 (failed) and 2 (never finished)
    assert len(lib) == ROWS - 1 and not lib.errors["source"].str.endswith(":100-200").any()


def test_from_chunks_takes_config_and_the_worker_options(tmp_path, matrix):
    path, _, meta = matrix
    config = DescriptorConfig(S, B, (-0.3, 0.3), nan_policy="omit")
    lib = ModelLibrary.from_chunks(
        matrix_chunks(path, meta, 64), tmp_path / "a.parquet", config=config, n_jobs=1
    )
    assert lib.config == config and ModelLibrary.load(tmp_path / "a.parquet").config == config
    same = ModelLibrary.from_chunks(
        matrix_chunks(path, meta, 64),
        tmp_path / "b.parquet",
        S=S,
        B=B,
        value_range=(-0.3, 0.3),
        nan_policy="omit",
    )
    np.testing.assert_array_equal(lib.descriptors, same.descriptors)
    with pytest.raises(TypeError, match="from_chunks\\(\\) takes no batch_size"):
        ModelLibrary.from_chunks(
            matrix_chunks(path, meta, 64), tmp_path / "c.parquet", batch_size=8
        )


def test_a_matrix_truncated_while_its_rows_are_read_is_a_named_error_not_a_signal(tmp_path):
    # Rows are read in place, never through a map: a map of a file truncated under it
    # raises SIGBUS, which would kill this child (and a notebook's kernel).
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import os, sys, threading, time
        import numpy as np
        from miwd_widget.library.chunked import matrix_chunks
        from miwd_widget.weights import WeightReadError
        path = os.path.join(sys.argv[1], "w.npy")
        outcomes = []
        for delay in (0.0, 0.002, 0.01):
            np.save(path, np.ones((64, 250_000), np.float32))  # 64 MB
            chunk = next(iter(matrix_chunks(path, chunk_rows=64)))
            cut = threading.Timer(delay, os.truncate, (path, 1 << 20))
            cut.start()
            try:
                for _ in range(20):
                    chunk.theta()
                outcomes.append("whole")
            except WeightReadError as exc:
                assert path in str(exc), exc
                outcomes.append("named error")
            cut.join()
        print(" ".join(outcomes))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, (run.returncode, run.stderr[-2000:])
    assert "named error" in run.stdout, run.stdout
