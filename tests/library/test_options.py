"""The constructors' options, checked in one place."""

from __future__ import annotations

import pytest

from miwd_widget.descriptors.config import DescriptorConfig
from miwd_widget.library.executor import Runner
from miwd_widget.library.options import build_options, kernel_threads


def test_defaults_shortcuts_and_worker_options():
    config, runner = build_options("f", None, {})
    assert config == DescriptorConfig() and runner == Runner()
    config, runner = build_options(
        "f", DescriptorConfig(S=8), {"B": 4, "n_jobs": 2, "batch_size": 3, "progress": False}
    )
    assert config == DescriptorConfig(S=8, B=4)
    assert runner == Runner(n_jobs=2, batch_size=3, progress=False)


def test_unknown_keywords_are_named_with_the_valid_ones():
    with pytest.raises(
        TypeError, match=r"f\(\) got an unexpected keyword arguments 'bins', 'jobs'"
    ):
        build_options("f", None, {"bins": 1, "jobs": 2})
    with pytest.raises(TypeError, match=r"valid: n_jobs, client, batch_size, progress$"):
        build_options("add", None, {"S": 4}, descriptor_options=False)
    with pytest.raises(
        TypeError, match=r"valid: config, S, B, value_range, percentiles, clip, nan_policy$"
    ):
        build_options("g", None, {"n_jobs": 1}, worker_options=False)


def test_former_names_warn_and_map_to_the_new_ones():
    with pytest.warns(DeprecationWarning) as record:
        _, runner = build_options("f", None, {"chunk_rows": 7, "threads": 2})
    assert runner.batch_size == 7 and runner.n_jobs == 2
    assert sorted(str(w.message) for w in record) == [
        "f(chunk_rows=...) is deprecated; use batch_size=",
        "f(threads=...) is deprecated; use n_jobs=",
    ]


def test_kernel_threads():
    assert kernel_threads(Runner()) is None
    assert kernel_threads(Runner(n_jobs=3)) == 3
