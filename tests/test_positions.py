"""Row positions from every input the API accepts (miwd_widget._positions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miwd_widget._positions import PositionError, as_positions


@pytest.mark.parametrize(
    "values",
    [
        np.arange(0, 1000, 3),  # sorted, unique: the browser's selection
        np.array([5, 1, 5, 3, 1, 0]),  # unsorted with repeats
        np.array([2, 2, 2]),
        np.array([7]),
        np.random.default_rng(0).integers(0, 1000, 5000),
    ],
)
def test_positions_equal_numpys_sorted_unique(values):
    got = as_positions(values.astype(np.int32), 1000)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, np.unique(values))


def test_the_result_never_aliases_the_input():
    values = np.arange(10, dtype=np.int64)
    got = as_positions(values, 10)
    got[0] = 99
    assert values[0] == 0


def test_index_series_mask_and_set_inputs():
    assert as_positions(pd.Index([4, 2]), 5).tolist() == [2, 4]
    assert as_positions(pd.Series([True, False, True]), 3).tolist() == [0, 2]
    assert as_positions({3, 1}, 5).tolist() == [1, 3]
    assert as_positions([1.0, 2.0], 5).tolist() == [1, 2]


def test_out_of_range_and_non_integers_are_named():
    with pytest.raises(PositionError, match=r"rows: row positions must be in 0\.\.4.*\[5\]"):
        as_positions([1, 5], 5, "rows")
    with pytest.raises(TypeError, match="rows: expected integer row positions"):
        as_positions([1.5], 5, "rows")
