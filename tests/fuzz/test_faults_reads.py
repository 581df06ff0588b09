"""Fault suite: files truncated while the calling process reads them.

A memory-mapped file truncated under its reader raises SIGBUS, which kills the process (in
a notebook: the kernel). Model files are read by positional reads instead (weights.
file_array), so each case here must end with the right descriptor or an error naming the
file, and the process alive. Each format runs in a child process, so that a regression
shows as that child's death by signal, not as the death of the test run.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest

#: Seconds after the read starts at which the file is truncated ("open": between opening the
#: model and describing it).
DELAYS = ("open", 0.0, 0.002, 0.01, 0.03, 0.1)

CHILD = textwrap.dedent(
    """
    import json, os, sys, threading, time
    import numpy as np
    fmt, folder, delays = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    from miwd_widget import describe
    from miwd_widget.weights import WeightReadError, open_weights

    rng = np.random.default_rng(0)
    theta = rng.standard_normal(8_000_000, dtype=np.float32)  # 32 MB: tens of ms to read

    def write(path):
        if fmt == "safetensors":
            import safetensors.numpy
            safetensors.numpy.save_file({"a": theta[:5_000_000], "b": theta[5_000_000:]}, path)
        elif fmt == "bf16":
            import ml_dtypes
            data = theta.astype(ml_dtypes.bfloat16).tobytes()
            entry = {"dtype": "BF16", "shape": [theta.size], "data_offsets": [0, len(data)]}
            header = json.dumps({"a": entry}).encode()
            header += b" " * (-len(header) % 8)
            with open(path, "wb") as f:
                f.write(len(header).to_bytes(8, "little") + header + data)
        elif fmt == "npy":
            np.save(path, theta)
        elif fmt == "nws":
            theta.astype("<f8").tofile(path)
        elif fmt == "torch":
            import torch
            torch.save({"a": torch.from_numpy(theta)}, path)

    suffix = {"safetensors": ".safetensors", "bf16": ".safetensors", "npy": ".npy",
              "nws": ".bin", "torch": ".pt"}[fmt]
    out = []
    for delay in delays:
        path = os.path.join(folder, f"model{suffix}")
        write(path)
        keep = os.path.getsize(path) // 3

        def cut():
            if delay != "open":
                time.sleep(delay)
            os.truncate(path, keep)

        try:
            if delay == "open":
                ws = open_weights(path)
                cut()
                describe(ws, S=16, B=16)
            else:
                threading.Thread(target=cut).start()
                describe(path, S=16, B=16)
            out.append([delay, "ok", ""])
        except WeightReadError as exc:
            out.append([delay, "error", str(exc)])
        time.sleep(max(0.0, (delay if delay != "open" else 0) + 0.01))
    print(json.dumps(out))
    """
)


@pytest.mark.parametrize("fmt", ["safetensors", "bf16", "npy", "nws", "torch"])
def test_a_file_truncated_while_it_is_read_is_a_named_error_and_the_process_lives(tmp_path, fmt):
    run = subprocess.run(
        [sys.executable, "-c", CHILD, fmt, str(tmp_path), json.dumps(DELAYS)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if run.returncode < 0:
        pytest.fail(f"the reading process died by {signal.Signals(-run.returncode).name}")
    assert run.returncode == 0, run.stderr[-2000:]
    outcomes = json.loads(run.stdout.strip().splitlines()[-1])
    assert [o[0] for o in outcomes] == list(DELAYS)
    for delay, outcome, message in outcomes:
        if outcome == "error":
            assert str(tmp_path / "model") in message, (delay, message)
    # Truncated before the read, the file can never be described whole.
    assert outcomes[0][1] == "error" and outcomes[1][1] == "error"
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
