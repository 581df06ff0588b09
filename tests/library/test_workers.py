"""What worker processes run: a (TORCH_FILE, path, root) spec is read confined to root."""

from __future__ import annotations

import numpy as np
import torch

from miwd_widget import describe
from miwd_widget.descriptors.config import DescriptorConfig
from miwd_widget.library.executor import TORCH_FILE, spec_path
from miwd_widget.library.workers import describe_batch

CONFIG = DescriptorConfig(S=2, B=4, value_range=(-1, 1))


def test_a_torch_file_without_suffix_is_read_inside_its_root(tmp_path):
    state = {"w": torch.linspace(-1, 1, 40), "step": torch.tensor(3)}
    (tmp_path / "zoo").mkdir()
    torch.save(state, tmp_path / "zoo" / "checkpoints")
    spec = (TORCH_FILE, str(tmp_path / "zoo" / "checkpoints"), str(tmp_path / "zoo"))
    assert spec_path(spec) == spec[1]
    ((status, descriptor, n, _),) = describe_batch([spec], CONFIG)
    assert status == "ok" and n == 40
    np.testing.assert_array_equal(descriptor, describe(state, S=2, B=4, value_range=(-1, 1)))


def test_a_torch_file_resolving_outside_its_root_is_refused(tmp_path):
    torch.save({"w": torch.ones(8)}, tmp_path / "outside.pt")
    (tmp_path / "zoo").mkdir()
    (tmp_path / "zoo" / "checkpoints").symlink_to(tmp_path / "outside.pt")
    spec = (TORCH_FILE, str(tmp_path / "zoo" / "checkpoints"), str(tmp_path / "zoo"))
    ((status, message),) = describe_batch([spec], CONFIG)
    assert status == "error" and "refused" in message and "outside the folder read" in message
