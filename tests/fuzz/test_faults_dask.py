"""Fault suite, dask: a worker lost in the middle of a library build costs only its files.

A LocalCluster of two worker processes (``dask_client``, tests/conftest.py) builds a
library whose reader kills its worker on one named file (the reader is wrapped here, as
tests/library/test_executor.py wraps it for the local process pool; the workers import
this module to run it, so it imports little at its top: a worker dies sooner). The build
must record that file, naming it and its dead worker, and describe every other file as a
build in this process does.
"""

from __future__ import annotations

import os
import signal

import numpy as np


def describe_or_die(specs, *args, **kwargs):
    """The build's reader, but a worker given ``dies.npy`` is killed (SIGKILL)."""
    if any(os.path.basename(str(spec)) == "dies.npy" for spec in specs):
        os.kill(os.getpid(), signal.SIGKILL)
    from miwd_widget.library.workers import describe_batch

    return describe_batch(specs, *args, **kwargs)


def test_a_file_that_kills_its_dask_workers_is_recorded_and_the_build_goes_on(
    tmp_path, monkeypatch, dask_client
):
    import pandas as pd

    import miwd_widget.library.build as build
    from miwd_widget import ModelLibrary

    names = [f"m{i:02d}.npy" for i in range(11)]
    names.insert(4, "dies.npy")  # in the middle of the second batch of 3
    for i, name in enumerate(names):
        np.save(tmp_path / name, np.linspace(-1, 1, 40 + i, dtype=np.float32))
    options = dict(S=4, B=4, value_range=(-1, 1), progress=False)
    here = ModelLibrary.from_files(tmp_path, n_jobs=1, **options)

    monkeypatch.setattr(build, "describe_batch", describe_or_die)
    # dask gives up on a task once allowed-failures + 1 of its workers died: 1 here
    on_dask = ModelLibrary.from_files(tmp_path, client=dask_client, batch_size=3, **options)

    dies = str(tmp_path / "dies.npy")
    assert on_dask.errors.to_dict("records") == [
        {
            "source": dies,
            "error": f"{dies}: the worker process reading it died (dask's KilledWorker: 1 "
            "worker died running it)",
        }
    ]
    kept = here.metadata["source"] != dies
    pd.testing.assert_frame_equal(
        on_dask.metadata, here.metadata[kept].reset_index(drop=True), check_like=True
    )
    np.testing.assert_array_equal(on_dask.descriptors, here.descriptors[kept.to_numpy()])
