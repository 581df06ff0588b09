"""The synced traits of the Atlas (widget/traits.py) against ``AtlasTraits`` in the front end.

A trait added, renamed or retyped on one side only fails here: the names must be the same,
and each trait's kind (number, string, list of strings or numbers, encoded object, nullable)
must be one the TypeScript type allows.
"""

from __future__ import annotations

import pathlib
import re

import anywidget
import numpy as np
import pandas as pd
import pytest
import traitlets
from ipywidgets.widgets.widget import _remove_buffers

from miwd_widget import Atlas, ModelLibrary
from miwd_widget.widget.traits import (
    SELECTION_MASK_ABOVE,
    SELECTION_MASK_MIN_ROWS,
    STANDALONE_TRAITS,
    AtlasTraits,
    ReceivedRows,
    as_selection,
    selection_from_json,
    selection_is_bitmask,
    selection_to_json,
)

MODEL_TS = pathlib.Path(__file__).parents[2] / "js" / "src" / "wire" / "model.ts"


def _strip_comments(text: str) -> str:
    return re.sub(r"//[^\n]*", "", re.sub(r"/\*.*?\*/", "", text, flags=re.S))


def _split_top(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator`` outside brackets (``<>``, ``[]``, ``{}``, ``()``)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "<[{(":
            depth += 1
        elif char in ">]})":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [part.strip() for part in parts if part.strip()]


def ts_type_fields(source: str, name: str) -> dict[str, str]:
    """The fields ``{name: type}`` of ``export type <name> = { ... };`` in ``source``."""
    text = _strip_comments(source)
    match = re.search(rf"export type {name}\s*=\s*\{{", text)
    assert match, f"no `export type {name} = {{` in {MODEL_TS}"
    depth, end = 1, match.end()
    while depth:
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        end += 1
    fields = {}
    for member in _split_top(text[match.end() : end - 1], ";"):
        field, _, kind = member.partition(":")
        fields[field.strip().rstrip("?")] = kind.strip()
    return fields


def ts_kinds(ts_type: str) -> set[str]:
    """The kinds a TypeScript type allows: number, string, boolean, null, string[], number[],
    object (records, encoded arrays and columns: anything else)."""
    kinds = set()
    for member in _split_top(ts_type, "|"):
        if member in {"number", "string", "boolean", "null"}:
            kinds.add(member)
        elif re.fullmatch(r"(string\[\]|Array<string>)", member):
            kinds.add("string[]")
        elif re.fullmatch(r"number\[\]|\[\s*number(\s*,\s*number)*\s*\]", member):
            kinds.add("number[]")
        else:
            kinds.add("object")
    return kinds


def python_kind(trait: traitlets.TraitType) -> str:
    """The kind a synced trait travels as (a ``to_json`` codec: an encoded object)."""
    if trait.metadata.get("to_json") is not None:
        return "object"
    if isinstance(trait, traitlets.Int | traitlets.Float):
        return "number"
    if isinstance(trait, traitlets.Unicode):
        return "string"
    if isinstance(trait, traitlets.Bool):
        return "boolean"
    if isinstance(trait, traitlets.List):
        item = trait._trait
        return "string[]" if isinstance(item, traitlets.Unicode) else "number[]"
    return "object"


def synced_traits() -> dict[str, traitlets.TraitType]:
    """The Atlas's own synced traits (not ipywidgets' and anywidget's plumbing)."""
    plumbing = set(anywidget.AnyWidget.class_trait_names(sync=True))
    return {
        name: trait
        for name, trait in AtlasTraits.class_traits(sync=True).items()
        if name not in plumbing
    }


@pytest.fixture(scope="module")
def ts_fields() -> dict[str, str]:
    return ts_type_fields(MODEL_TS.read_text(encoding="utf-8"), "AtlasTraits")


def test_python_and_typescript_declare_the_same_synced_traits(ts_fields):
    python = set(synced_traits())
    assert sorted(python - set(ts_fields)) == [], "synced in Python, not in AtlasTraits"
    assert sorted(set(ts_fields) - python) == [], "in AtlasTraits, not synced in Python"


def test_every_synced_trait_is_declared_in_traits_py():
    plumbing = set(anywidget.AnyWidget.class_trait_names(sync=True))
    assert set(Atlas.class_trait_names(sync=True)) - plumbing == set(synced_traits())


def test_each_trait_has_a_kind_its_typescript_type_allows(ts_fields):
    for name, trait in synced_traits().items():
        allowed = ts_kinds(ts_fields[name])
        assert python_kind(trait) in allowed, f"{name}: {python_kind(trait)} vs {ts_fields[name]}"
        # Nullable on both sides or neither (Any is nullable without saying so).
        if type(trait) is not traitlets.Any:
            assert trait.allow_none == ("null" in allowed), f"{name}: null vs {ts_fields[name]}"


def test_a_trait_on_one_side_only_or_of_another_kind_is_caught():
    source = "export type AtlasTraits = {\n  /** doc; with a semicolon */\n  n: string;\n  extra?: number;\n};"
    fields = ts_type_fields(source, "AtlasTraits")
    assert fields == {"n": "string", "extra": "number"}
    assert python_kind(AtlasTraits.class_traits()["n"]) not in ts_kinds(fields["n"])
    assert ts_kinds("[number, number] | null") == {"number[]", "null"}
    assert ts_kinds("Record<string, A | B>") == {"object"}


def test_a_saved_page_holds_synced_traits_only():
    assert set(STANDALONE_TRAITS) <= set(synced_traits())


class _Sized:
    """What the selection codec reads of a widget: its number of models."""

    def __init__(self, n: int) -> None:
        self.n = n


@pytest.mark.parametrize("n", [1, 7, 8, 9, 33, 1000, 16_385, 524_289, 1_000_003])
def test_selection_round_trips_exactly_as_int32_and_as_bitmask(n):
    rng = np.random.default_rng(n)
    widget = _Sized(n)
    # Around both thresholds (n / 32 rows, 16,384 rows), empty, one row, half, all rows.
    share, least = n // SELECTION_MASK_ABOVE, SELECTION_MASK_MIN_ROWS
    sizes = {0, 1, share, share + 1, least, least + 1, n // 2, n}
    for k in sorted(s for s in sizes if s <= n):
        rows = np.sort(rng.choice(n, k, replace=False))
        if k == 1:
            rows = np.array([n - 1])
        encoded = selection_to_json(rows.tolist(), widget)
        bitmask = k > least and k * SELECTION_MASK_ABOVE > n
        assert selection_is_bitmask(k, n) == bitmask
        assert encoded.get("encoding") == ("bitmask" if bitmask else None), (n, k)
        if bitmask:
            assert encoded["dtype"] == "uint8" and encoded["shape"] == [(n + 7) // 8]
        else:
            assert encoded["dtype"] == "int32" and encoded["shape"] == [k]
        # Through the wire: buffers become bytes.
        state, paths, buffers = _remove_buffers({"selection": encoded})
        for path, buffer in zip(paths, buffers, strict=True):
            state["selection"][path[-1]] = memoryview(bytes(buffer))
        assert selection_from_json(state["selection"], widget).tolist() == rows.tolist()


def test_a_bitmask_selection_from_the_browser_is_the_rows_and_is_not_echoed():
    n = 100_000
    lib = ModelLibrary(
        np.full((n, 2, 2), 0.25, np.float32),
        pd.DataFrame({"id": [f"m{i}" for i in range(n)], "test_accuracy": np.linspace(0, 1, n)}),
        embedding=np.random.default_rng(0).normal(size=(n, 2)).astype(np.float32),
        value_range=(-1.0, 1.0),
    )
    atlas = Atlas(lib)
    rows = np.arange(1, n, 3)
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    packed = np.packbits(mask, bitorder="little")
    sent: list = []
    atlas.send_state = lambda key=None: sent.append(key)  # what the kernel would echo
    state = {"buffer": memoryview(packed.tobytes()), "dtype": "uint8", "shape": [packed.size]}
    atlas.set_state({"selection": {**state, "encoding": "bitmask", "n": n}})
    assert atlas.selection == rows.tolist()
    assert sent == []  # the kernel's own encoding of the selection is the browser's


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"buffer": b"\x01", "dtype": "uint8", "shape": [1], "encoding": "bitmask"}, "number"),
        ({"buffer": b"\x01", "dtype": "uint8", "shape": [1], "encoding": "bitmask", "n": 9}, "2"),
        (
            {"buffer": b"\x01\x00", "dtype": "int16", "shape": [1], "encoding": "bitmask", "n": 8},
            "uint8",
        ),
    ],
)
def test_a_malformed_bitmask_selection_is_a_clear_error(value, message):
    with pytest.raises(ValueError, match=f"selection: .*{message}"):
        selection_from_json(value, _Sized(8))


def test_a_validated_selection_is_a_list_that_keeps_its_array_until_changed():
    import copy
    import json

    rows = as_selection(np.array([5, 1, 5]), 8)
    assert rows == [1, 5] and isinstance(rows, list) and json.dumps(rows) == "[1, 5]"
    assert rows.validated_for(8) and not rows.validated_for(9)
    assert as_selection(rows, 8) is rows  # validated once
    assert rows.positions().tolist() == [1, 5] and not rows.positions().flags.writeable
    changed = as_selection([1, 5], 8)
    changed += [7]
    assert not changed.validated_for(8) and changed.positions().tolist() == [1, 5, 7]
    assert as_selection(changed, 8) == [1, 5, 7]
    copied = copy.deepcopy(rows)
    assert copied == [1, 5] and not copied.validated_for(8)
    assert selection_to_json(copied)["shape"] == [2]


def test_received_rows_compare_by_identity_only():
    received = selection_from_json(
        {"buffer": memoryview(np.arange(3, dtype=np.int32)), "dtype": "int32", "shape": [3]}
    )
    assert isinstance(received, ReceivedRows) and received.tolist() == [0, 1, 2]
    assert (received == [0, 1, 2]) is False and received == received
    assert ([0, 1, 2] == received) is False and (received != [0, 1, 2]) is True
