"""The guard's path checks on symlink loops: each error names the path and says it loops.

(The guard's other checks are exercised through the readers, in test_hostile_files.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from miwd_widget.weights import WeightReadError
from miwd_widget.weights.guard import (
    SYMLINK_LOOP,
    confinement_root,
    inside_folder,
    is_symlink_loop,
    regular_file,
    resolve_path,
)


@pytest.fixture
def loops(tmp_path: Path) -> Path:
    """A folder holding a two-link loop (a <-> b), a link to itself and a regular file."""
    (tmp_path / "a.safetensors").symlink_to("b.safetensors")
    (tmp_path / "b.safetensors").symlink_to("a.safetensors")
    (tmp_path / "self.npy").symlink_to("self.npy")
    (tmp_path / "ok.npy").write_bytes(b"x")
    return tmp_path


def test_the_message_says_it_is_a_loop():
    assert SYMLINK_LOOP == (
        "is a symbolic link loop (its links lead back to themselves, never to a file)"
    )


def test_is_symlink_loop(loops):
    assert is_symlink_loop(loops / "a.safetensors") and is_symlink_loop(loops / "self.npy")
    assert not is_symlink_loop(loops / "ok.npy") and not is_symlink_loop(loops / "gone.npy")


@pytest.mark.parametrize("name", ["a.safetensors", "self.npy"])
def test_regular_file_names_a_loop(loops, name):
    with pytest.raises(WeightReadError) as err:
        regular_file(loops / name)
    assert str(err.value) == f"{loops / name}: {SYMLINK_LOOP}"


def test_resolve_path_names_a_loop_and_resolves_the_rest(loops):
    with pytest.raises(WeightReadError) as err:
        resolve_path(loops / "self.npy", "the model")
    assert str(err.value) == f"the model: {SYMLINK_LOOP}"
    assert resolve_path(loops / "ok.npy") == (loops / "ok.npy").resolve()
    assert resolve_path(loops / "gone.npy") == (loops / "gone.npy").resolve()


def test_inside_folder_names_the_index_the_shard_and_its_path(loops):
    index = loops / "model.safetensors.index.json"
    with pytest.raises(WeightReadError) as err:
        inside_folder(index, "a.safetensors", "shard file")
    assert str(err.value) == (
        f"{index}: shard file 'a.safetensors' ({loops / 'a.safetensors'}): {SYMLINK_LOOP}"
    )


def test_confinement_root_names_a_folder_that_loops(loops):
    (loops / "folder").symlink_to("folder")
    with pytest.raises(WeightReadError) as err:
        confinement_root(loops / "folder")
    assert str(err.value) == f"{loops / 'folder'}: {SYMLINK_LOOP}"
