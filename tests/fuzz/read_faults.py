"""Files truncated while the calling process reads them: the scenario of the read fault
suite (test_faults_reads.py) and of ``benchmarks/bench_fuzz.py --truncations``.

A memory-mapped file truncated under its reader raises SIGBUS, which kills the process (in
a notebook: the kernel). Model files are read by positional reads instead (weights.
file_array). Each format runs in a child process, so that a regression shows as that
child's death by signal, not as the death of the caller.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

FORMATS = ("safetensors", "bf16", "npy", "nws", "torch")
#: Outcomes of one truncation: the file was read whole before it was cut, the read failed
#: with an error naming the file, or with one that does not (bad), or the process died (bad).
OUTCOMES = ("described whole", "named error", "unnamed error", "process killed")
BAD = ("unnamed error", "process killed")

#: Seconds after the read starts at which the file is truncated by default ("open": between opening the
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


def truncated_reads(fmt: str, folder: str, delays=DELAYS) -> list[tuple[object, str, str]]:
    """Describe a 32 MB ``fmt`` model in ``folder`` once per delay, truncating it to a third
    that many seconds after the read starts ("open": between opening and describing);
    ``(delay, outcome, message)`` per delay, or one ``process killed`` row naming the signal."""
    run = subprocess.run(
        [sys.executable, "-c", CHILD, fmt, str(folder), json.dumps(list(delays))],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode < 0:
        return [(None, "process killed", signal.Signals(-run.returncode).name)]
    if run.returncode != 0:
        raise RuntimeError(f"the {fmt} reading process failed: {run.stderr[-2000:]}")
    rows = []
    for delay, outcome, message in json.loads(run.stdout.strip().splitlines()[-1]):
        if outcome == "error":
            outcome = "named error" if f"{folder}/model" in message else "unnamed error"
        else:
            outcome = "described whole"
        rows.append((delay, outcome, message))
    return rows
