"""The ModelLibrary.from_* constructors: config= on each, one check of their keywords."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from miwd_widget.descriptors import describe
from miwd_widget.descriptors.config import DescriptorConfig
from miwd_widget.library import ModelLibrary

CONFIG = DescriptorConfig(S=4, B=8, value_range=(-0.5, 0.5), clip=True, nan_policy="omit")


def _models(n: int = 3) -> dict[str, dict[str, np.ndarray]]:
    """Models by name, each a state dict of one weight vector."""
    rng = np.random.default_rng(0)
    return {f"m{i}": {"w": rng.normal(0, 0.3, 96).astype(np.float32)} for i in range(n)}


# the smallest valid call of each constructor: a misspelt keyword is refused before any work
CALLS = {
    "from_files": lambda **kw: ModelLibrary.from_files("nowhere/*.npy", **kw),
    "from_models": lambda **kw: ModelLibrary.from_models([np.ones(8)], **kw),
    "from_zoo": lambda **kw: ModelLibrary.from_zoo("nowhere", **kw),
    "from_nws": lambda **kw: ModelLibrary.from_nws("nowhere.csv", **kw),
    "from_dataframe": lambda **kw: ModelLibrary.from_dataframe(
        pd.DataFrame({"x": [1]}), np.ones((1, 2, 2)), **kw
    ),
    "from_chunks": lambda **kw: ModelLibrary.from_chunks([], "nowhere.parquet", **kw),
    "from_cnn_zoo": lambda **kw: ModelLibrary.from_cnn_zoo("nowhere", **kw),
    "from_huggingface": lambda **kw: ModelLibrary.from_huggingface("nowhere", **kw),
    "from_model_zoos": lambda **kw: ModelLibrary.from_model_zoos("nowhere", **kw),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_misspelt_keyword_is_refused_naming_it_and_the_valid_ones(name):
    with pytest.raises(TypeError) as err:
        CALLS[name](bins=8)
    message = str(err.value)
    assert f"{name}() got an unexpected keyword argument 'bins'" in message
    assert "valid: config, S, B, value_range, percentiles, clip, nan_policy" in message
    if name == "from_dataframe":  # describes nothing: no worker options
        assert "n_jobs" not in message
    else:
        assert message.endswith("n_jobs, client, batch_size, progress")


@pytest.mark.parametrize("name", sorted(CALLS))
def test_config_must_be_a_descriptor_config(name):
    with pytest.raises(TypeError, match="config: expected a DescriptorConfig, got dict"):
        CALLS[name](config={"S": 4})


def test_from_models_with_config_equals_the_shortcuts():
    models = _models()
    lib = ModelLibrary.from_models(models, config=CONFIG)
    assert lib.config == CONFIG and lib.value_range == (-0.5, 0.5)
    same = ModelLibrary.from_models(
        models, S=4, B=8, value_range=(-0.5, 0.5), clip=True, nan_policy="omit"
    )
    np.testing.assert_array_equal(lib.descriptors, same.descriptors)
    thetas = [m["w"] for m in models.values()]
    expected = describe(thetas, 4, 8, (-0.5, 0.5), True, nan_policy="omit")
    np.testing.assert_array_equal(lib.descriptors, expected)


def test_a_shortcut_replaces_the_field_of_config():
    lib = ModelLibrary.from_models(_models(), config=CONFIG, B=4, clip=False)
    assert lib.config == DescriptorConfig(4, 4, (-0.5, 0.5), clip=False, nan_policy="omit")
    with pytest.raises(ValueError, match="nan_policy must be 'raise' or 'omit'"):
        ModelLibrary.from_models(_models(), config=CONFIG, nan_policy="ignore")


def test_from_files_with_config(tmp_path):
    models = _models()
    for name, model in models.items():
        np.save(tmp_path / f"{name}.npy", model["w"])
    lib = ModelLibrary.from_files(tmp_path, config=CONFIG, n_jobs=1)
    assert lib.config == CONFIG
    np.testing.assert_array_equal(
        lib.descriptors, ModelLibrary.from_models(models, config=CONFIG).descriptors
    )


def test_from_dataframe_with_config_keeps_its_parameters():
    d = np.full((2, 4, 8), 1 / 8, np.float32)
    lib = ModelLibrary.from_dataframe(pd.DataFrame({"x": [1, 2]}), d, config=CONFIG)
    assert lib.config == CONFIG
    lib = ModelLibrary.from_dataframe(pd.DataFrame({"x": [1, 2]}), d, (-1, 1), clip=True)
    assert lib.config == DescriptorConfig(4, 8, (-1, 1), clip=True)
    with pytest.raises(ValueError, match="config has S=32, B=32; descriptors are 4x8"):
        ModelLibrary.from_dataframe(pd.DataFrame({"x": [1, 2]}), d, config=DescriptorConfig())


def test_from_models_accepts_the_worker_options_and_runs_here():
    lib = ModelLibrary.from_models(_models(), S=4, B=8, n_jobs=4, batch_size=2, progress=False)
    assert len(lib) == 3


def test_add_takes_worker_options_only():
    lib = ModelLibrary.from_models(_models(2), config=CONFIG)
    with pytest.raises(TypeError, match="add\\(\\) got an unexpected keyword argument 'S'"):
        lib.add({"new": {"w": np.ones(64)}}, S=8)
    lib.add({"new": {"w": np.linspace(-1, 1, 64)}}, n_jobs=1, progress=False)
    assert len(lib) == 3 and lib.config == CONFIG
