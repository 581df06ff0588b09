"""Fixtures shared by test packages."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def dask_client():
    """A dask LocalCluster of two worker processes (one thread each) and its client.

    dask gives up on a task at the first death of a worker running it (``allowed-failures``
    0), so that every lost worker is the build's to handle. A test that kills workers
    leaves them restarting: wait for them (``dask_client.wait_for_workers(2)``) if it matters.
    """
    import dask
    import distributed  # the `dask` extra, installed in the dev environment

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client
