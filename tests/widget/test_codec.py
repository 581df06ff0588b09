"""The column codec: exact integers, datetimes as times, missing values, the log-axis rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miwd_widget.widget.codec import (
    MISSING_LABEL,
    NARROW_ABOVE_ROWS,
    array_from_json,
    array_to_json,
    decode_column,
    encode_column,
    quantized_to_json,
    state_to_base64,
)


def _wire(encoded: dict) -> dict:
    """What a standalone page holds: every buffer as base64 text (decoded the same way)."""
    return state_to_base64(encoded)


def test_int32_integers_are_exact_and_compact():
    enc = encode_column(pd.Series([123456789, -7, 2**31 - 1], name="seed"))
    values = array_from_json(_wire(enc)["values"])
    assert values.dtype == np.int32
    assert values.tolist() == [123456789, -7, 2**31 - 1]  # float32 gave 123456792
    assert enc["integer"] is True and enc["min"] == -7.0 and enc["max"] == 2**31 - 1
    assert "missing" not in enc


def test_integers_beyond_int32_go_as_exact_float64_then_int64():
    within = encode_column(pd.Series([2**40 + 1, 3, 2**53]))
    assert array_from_json(within["values"]).dtype == np.float64
    assert decode_column(within).astype(np.int64).tolist() == [2**40 + 1, 3, 2**53]
    beyond = [2**53 + 1, -(2**62) - 3, 2**63 - 1]
    enc = encode_column(pd.Series(beyond, dtype="int64"))
    assert array_from_json(_wire(enc)["values"]).dtype == np.int64
    assert decode_column(_wire(enc)).tolist() == beyond
    huge = encode_column(pd.Series([2**64 - 1, 5], dtype="uint64"))
    assert array_from_json(huge["values"]).dtype == np.uint64
    assert decode_column(huge).tolist() == [2**64 - 1, 5]


def test_missing_integers_stay_missing():
    small = encode_column(pd.Series([5, None, 123456789], dtype="Int64"))
    assert array_from_json(small["values"]).dtype == np.int32
    assert array_from_json(small["missing"]).tolist() == [0, 1, 0]
    out = decode_column(small)
    assert out[0] == 5 and np.isnan(out[1]) and out[2] == 123456789
    big = encode_column(pd.Series([2**60 + 1, None], dtype="Int64"))
    assert decode_column(big).tolist() == [2**60 + 1, None]
    middle = encode_column(pd.Series([2**40, None], dtype="Int64"))
    assert "missing" not in middle  # float64: NaN says it
    assert np.isnan(decode_column(middle)[1]) and decode_column(middle)[0] == 2**40
    # An integer column promoted to float by a NaN keeps its digits beyond float32.
    promoted = encode_column(pd.Series([1_578_070_123.0, np.nan]))
    assert promoted["integer"] is True
    assert decode_column(promoted)[0] == 1_578_070_123 and np.isnan(decode_column(promoted)[1])


def test_floats_stay_float32_with_nan():
    enc = encode_column(pd.Series([0.25, np.nan, None, 1.5]))
    values = array_from_json(enc["values"])
    assert values.dtype == np.float32 and enc["integer"] is False
    assert values[0] == 0.25 and np.isnan(values[1]) and np.isnan(values[2])
    assert (enc["min"], enc["max"]) == (0.25, 1.5)


def test_datetimes_travel_as_epoch_milliseconds():
    times = pd.Series(pd.to_datetime(["2024-03-01 12:30:00.250", None, "1969-12-31 00:00:00.000"]))
    enc = encode_column(times)
    assert enc["kind"] == "datetime" and enc["tz"] is None
    ms = array_from_json(_wire(enc)["values"])
    assert ms.dtype == np.float64
    assert ms[0] == pd.Timestamp("2024-03-01 12:30:00.250").value // 10**6
    assert np.isnan(ms[1]) and ms[2] == -86_400_000.0
    assert enc["min"] == -86_400_000.0 and enc["max"] == ms[0]
    back = decode_column(enc)
    assert back[0] == np.datetime64("2024-03-01T12:30:00.250") and np.isnat(back[1])
    aware = encode_column(
        pd.Series(pd.to_datetime(["2024-06-01 02:00"]).tz_localize("Europe/Paris"))
    )
    assert aware["tz"] == "Europe/Paris"
    assert array_from_json(aware["values"])[0] == pd.Timestamp("2024-06-01 00:00Z").value // 10**6


def test_booleans_and_missing_categories():
    flags = encode_column(pd.Series([True, None, False], dtype="boolean"))
    assert flags["kind"] == "categorical"
    assert flags["categories"] == ["False", "True", MISSING_LABEL] and flags["missing"] == 2
    assert decode_column(flags).tolist() == ["True", MISSING_LABEL, "False"]
    # A real "(missing)" string is not the missing code.
    tricky = encode_column(pd.Series(["(missing)", None]))
    codes = array_from_json(tricky["codes"]).tolist()
    assert tricky["categories"][codes[1]] == MISSING_LABEL and codes[1] == tricky["missing"]
    assert codes[0] != tricky["missing"]
    assert "missing" not in encode_column(pd.Series(["a", "b"]))


@pytest.mark.parametrize(
    ("name", "values", "log"),
    [
        ("lr", [2e-4, 5e-3], True),  # 1.4 decades, but sampled log-uniformly
        ("learning_rate", [1e-3, 3e-3], True),
        ("optimizer.weight_decay", [1e-5, 1e-4], True),
        ("init_std", [0.01, 0.05], True),
        ("LR", [0.001, 0.01], True),
        ("lr", [0.0, 0.01], False),  # not positive
        ("accuracy", [0.01, 0.3], False),  # 1.48 decades, no known name
        ("n_params", [100, 10_000], True),  # 2 decades
        ("n_params", [100, 9_000], False),
        ("batch_size", [32, 128], False),
        ("seed", [300_000, 2_100_000_000], False),  # an identifier, not a magnitude
        ("model_id", [1, 5000], False),
    ],
)
def test_log_axis_rule(name, values, log):
    assert encode_column(pd.Series(values, name=name))["log"] is log


def test_log_axis_from_metadata_and_argument():
    meta = pd.DataFrame({"rate": [0.1, 0.3], "other": [0.1, 0.3]})
    meta.attrs["log_columns"] = ["rate"]
    assert encode_column(meta["rate"])["log"] is True
    assert encode_column(meta["other"])["log"] is False
    assert encode_column(pd.Series([0.1, 0.2]), log=True)["log"] is True
    assert encode_column(pd.Series([1e-5, 1.0], name="lr"), log=False)["log"] is False
    with pytest.raises(ValueError, match="'gap'.*positive"):
        encode_column(pd.Series([0.0, 1.0], name="gap"), log=True)


def test_array_codec_accepts_the_new_dtypes_and_rejects_others():
    for dtype in ("float64", "int64", "uint64"):
        arr = np.arange(3, dtype=dtype)
        assert array_from_json(_wire(array_to_json(arr))).tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="complex128"):
        array_to_json(np.zeros(2, dtype=complex))


ROWS = NARROW_ABOVE_ROWS + 1


@pytest.mark.parametrize(
    ("low", "high", "dtype", "offset"),
    [
        (0, 255, "uint8", None),
        (32, 256, "uint8", 32),  # a batch size: 225 values from 32
        (-100, 100, "uint8", -100),
        (0, 65_535, "uint16", None),
        (-40_000, 20_000, "uint16", -40_000),
        (2**31 - 1 - 65_535, 2**31 - 1, "uint16", 2**31 - 1 - 65_535),
        (0, 65_536, "int32", None),  # 65,537 values: too many for uint16
        (-(2**31), 2**31 - 1, "int32", None),
        (2**31, 2**31 + 5, "float64", None),  # beyond int32: no codes
    ],
)
def test_integers_travel_in_the_narrowest_exact_width(low, high, dtype, offset):
    values = np.resize(np.array([low, high, (low + high) // 2], dtype=np.int64), ROWS)
    for series in (pd.Series(values), pd.Series(values, dtype="Int64").mask(np.arange(ROWS) == 1)):
        enc = encode_column(series)
        assert enc["values"]["dtype"] == dtype and enc.get("offset") == offset
        assert (enc["min"], enc["max"]) == (float(low), float(values[~series.isna()].max()))
        decoded = decode_column(_wire(enc))
        missing = series.isna().to_numpy()
        if missing.any():
            if dtype == "float64":  # NaN marks the missing rows
                assert "missing" not in enc
            else:
                assert (
                    array_from_json(_wire(enc)["missing"]).astype(bool).tolist() == missing.tolist()
                )
            assert np.isnan(decoded[missing].astype(float)).all()
            assert decoded[~missing].astype(np.int64).tolist() == values[~missing].tolist()
        else:
            assert decoded.astype(np.int64).tolist() == values.tolist()


def test_small_integer_columns_keep_int32():
    enc = encode_column(pd.Series([32, 64, 256] * 10))
    assert enc["values"]["dtype"] == "int32" and "offset" not in enc


@pytest.mark.parametrize(
    ("labels", "dtype"),
    # codes: the labels and the missing one
    [(3, "uint8"), (255, "uint8"), (256, "uint16"), (65_535, "uint16"), (65_536, "uint32")],
)
def test_categories_travel_in_the_narrowest_code_width(labels, dtype):
    names = np.array([f"c{i:06d}" for i in range(labels)], dtype=object)
    series = pd.Series(names[np.arange(max(labels + 1, 1000)) % labels])
    series[labels] = None  # the row that would repeat the first label
    enc = encode_column(series)
    assert enc["codes"]["dtype"] == dtype and len(enc.get("categories", [])) in (0, labels + 1)
    expected = series.where(series.notna(), MISSING_LABEL).tolist()
    assert decode_column(_wire(enc)).tolist() == expected


def test_large_position_arrays_travel_as_uint16_within_half_a_step():
    rng = np.random.default_rng(0)
    positions = rng.normal(0, 5, (ROWS, 2)).astype(np.float32)
    positions[:, 1] = positions[:, 1] * 1e-3 + 100  # another span and origin per column
    enc = quantized_to_json(positions)
    assert enc["dtype"] == "uint16" and enc["shape"] == [ROWS, 2]
    back = array_from_json(_wire(enc))
    assert back.dtype == np.float32
    span = positions.max(0).astype(np.float64) - positions.min(0)
    error = np.abs(back.astype(np.float64) - positions).max(0)
    assert (error <= span / 65_535 / 2 + np.spacing(np.abs(positions).max(0))).all()
    constant = quantized_to_json(np.full((ROWS, 2), 3.0))
    assert array_from_json(constant).tolist()[:1] == [[3.0, 3.0]]


def test_small_or_incomplete_position_arrays_stay_float32():
    small = np.arange(10, dtype=np.float32).reshape(5, 2)
    assert quantized_to_json(small)["dtype"] == "float32"
    holes = np.zeros((ROWS, 2))
    holes[3, 0] = np.nan
    assert quantized_to_json(holes)["dtype"] == "float32"
