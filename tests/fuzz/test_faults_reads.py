"""Fault suite: files truncated while the calling process reads them (read_faults)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from read_faults import DELAYS, FORMATS, truncated_reads  # noqa: E402


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_file_truncated_while_it_is_read_is_a_named_error_and_the_process_lives(tmp_path, fmt):
    outcomes = truncated_reads(fmt, str(tmp_path))
    assert [o[0] for o in outcomes] == list(DELAYS), outcomes  # else: the process was killed
    assert all(o[1] in ("described whole", "named error") for o in outcomes), outcomes
    # Truncated before the read, the file can never be described whole.
    assert outcomes[0][1] == "named error" and outcomes[1][1] == "named error"
    messages = " ".join(m for _, _, m in outcomes)
    assert "changed while it was read" in messages or "truncated" in messages


def test_a_library_build_in_the_calling_process_records_a_file_truncated_mid_build(tmp_path):
    script = textwrap.dedent(
        """
        import json, os, sys, threading
        import numpy as np, safetensors.numpy
        from miwd_widget import ModelLibrary
        from miwd_widget.weights.formats import safetensors as fmt
        fmt.SMALL_FILE_BYTES = 0  # every file read in place, as large files are
        folder = sys.argv[1]
        rng = np.random.default_rng(1)
        for i in range(6):
            w = rng.standard_normal(2_000_000, dtype=np.float32)
            safetensors.numpy.save_file({"w": w}, os.path.join(folder, f"m{i}.safetensors"))
        victim = os.path.join(folder, "m3.safetensors")
        threading.Timer(0.05, os.truncate, (victim, 1000)).start()
        lib = ModelLibrary.from_files(folder, S=8, B=8, n_jobs=1, progress=False)
        print(json.dumps([sorted(map(str, lib.metadata["source"])), lib.errors["error"].tolist()]))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-2000:]
    built, errors = json.loads(run.stdout.strip().splitlines()[-1])
    victim = str(tmp_path / "m3.safetensors")
    others = [str(tmp_path / f"m{i}.safetensors") for i in range(6) if i != 3]
    assert set(others) <= set(built)
    if victim not in built:  # truncated before its read finished: recorded, never partial
        assert len(errors) == 1 and victim in errors[0]
