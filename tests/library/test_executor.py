"""Process isolation of batch builds: a dead worker costs one file; SIGTERM; parent death.

The worker functions here are test-only readers: they die (os._exit, SIGKILL, SIGBUS, a
memory-mapped file truncated under them) for the items named so. Subprocess tests run a
small build script and signal it, then check that no worker outlives it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from miwd_widget.library.executor import Runner, error_text, run_batches, spec_path
from miwd_widget.weights import flatten_weights, open_weights

DEATHS = {
    "die-exit": lambda: os._exit(7),
    "die-kill": lambda: os.kill(os.getpid(), signal.SIGKILL),
    "die-bus": lambda: os.kill(os.getpid(), signal.SIGBUS),
}


def dying_batch(specs: list[str], threads: int | None = None) -> list[tuple]:
    """Doubles each name; dies as the name says for the ones named ``die-*``."""
    out = []
    for spec in specs:
        if spec in DEATHS:
            DEATHS[spec]()
        out.append(("ok", spec * 2))
    return out


def shrinking_batch(specs: list[str], threads: int | None = None) -> list[tuple]:
    """Reads each .npy; a file named ``shrinks*`` is truncated between open and read."""
    out = []
    for spec in specs:
        try:
            ws = open_weights(spec)
            if Path(spec).name.startswith("shrinks") and os.path.getsize(spec) > 128:
                os.truncate(spec, 128)  # as a training job rewriting its checkpoint would
            out.append(("ok", float(flatten_weights(ws).sum())))
        except Exception as exc:  # as the build's own workers do: recorded per file
            out.append(("error", error_text(exc)))
    return out


def growing_batch(specs: list[str], threads: int | None = None) -> list[tuple]:
    """Reads each .npy; one named ``dies*`` grows by 64 bytes and kills its reader."""
    out = []
    for spec in specs:
        if Path(spec).name.startswith("dies"):
            with open(spec, "ab") as f:
                f.write(bytes(64))
            os.kill(os.getpid(), signal.SIGBUS)
        out.append(("ok", open_weights(spec).n))
    return out


RUNNER = Runner(n_jobs=2, batch_size=4, progress=False)


@pytest.mark.parametrize("death", sorted(DEATHS))
def test_a_worker_that_dies_costs_only_its_item_and_its_batch_is_retried(death):
    specs = [f"m{i}" for i in range(10)]
    specs[5] = death  # the middle of the second batch of 4
    results = run_batches(dying_batch, specs, {}, RUNNER, "test")
    assert [r for i, r in enumerate(results) if i != 5] == [
        ("ok", s * 2) for i, s in enumerate(specs) if i != 5
    ]
    code = {"die-exit": "EXIT(7)", "die-kill": "SIGKILL(-9)", "die-bus": "SIGBUS(-7)"}[death]
    assert results[5] == (
        "error",
        f"{death}: the worker process reading it died (exit code {code})",
    )


def test_several_deaths_in_one_build():
    specs = ["die-bus", "a", "b", "c", "d", "die-exit", "e", "f", "g", "die-kill", "h"]
    results = run_batches(dying_batch, specs, {}, RUNNER, "test")
    for spec, (status, value) in zip(specs, results, strict=True):
        if spec.startswith("die"):
            assert status == "error" and value.startswith(f"{spec}: the worker process")
        else:
            assert (status, value) == ("ok", spec * 2)


def test_a_file_truncated_while_read_is_recorded_and_its_batch_goes_on(tmp_path):
    paths = []
    for i in range(6):
        name = "shrinks.npy" if i == 2 else f"m{i}.npy"
        np.save(tmp_path / name, np.full(1 << 16, float(i), np.float32))
        paths.append(str(tmp_path / name))
    listed = os.path.getsize(paths[2])
    results = run_batches(shrinking_batch, paths, {}, RUNNER, "test")
    assert [r for i, r in enumerate(results) if i != 2] == [
        ("ok", float(i << 16)) for i in range(6) if i != 2
    ]
    # Files are read in place, never mapped: the reader gets a short read, not SIGBUS, and
    # the error says what happened; the worker lives on.
    assert results[2] == (
        "error",
        f"{paths[2]}: the file changed while it was read: it has 128 bytes now, {listed:,} "
        f"when opened, and byte {listed:,} is needed (truncated or rewritten in place)",
    )


def test_a_file_that_kills_its_worker_alone_too_says_how_it_changed(tmp_path):
    paths = [str(tmp_path / f"m{i}.npy") for i in range(5)]
    paths[3] = str(tmp_path / "dies.npy")
    for i, path in enumerate(paths):
        np.save(path, np.full(1 << 14, float(i), np.float32))
    listed = os.path.getsize(paths[3])
    results = run_batches(growing_batch, paths, {}, RUNNER, "test")
    assert [r[0] for r in results] == ["ok", "ok", "ok", "error", "ok"]
    # read twice (in its batch, then alone), growing by 64 bytes each time
    assert results[3][1] == (
        f"{paths[3]}: the worker process reading it died (exit code SIGBUS(-7)); the file "
        f"changed size since it was listed ({listed:,} -> {listed + 128:,} bytes): was it "
        "rewritten while the library was built?"
    )


def test_spec_path():
    assert spec_path(Path("/m/a.npy")) == "/m/a.npy"
    assert spec_path(("f64", "/nws/w/001.bin", None)) == "/nws/w/001.bin"
    assert spec_path(np.zeros(3)) is None


# --------------------------------------------------------------------------------------
# dask: a lost worker costs only the files it held
# --------------------------------------------------------------------------------------


def test_on_dask_a_file_that_kills_its_worker_costs_only_that_file(dask_client, caplog):
    specs = [f"m{i}" for i in range(10)]
    specs[5] = "die-kill"
    runner = Runner(client=dask_client, batch_size=4, progress=False)
    results = run_batches(dying_batch, specs, {}, runner, "test")
    assert [r for i, r in enumerate(results) if i != 5] == [
        ("ok", s * 2) for i, s in enumerate(specs) if i != 5
    ]
    assert results[5] == (
        "error",
        "die-kill: the worker process reading it died (dask's KilledWorker: 1 worker died "
        "running it)",
    )
    assert "retried one per task" in caplog.text


def sleepy_batch(specs: list[str], threads: int | None = None) -> list[tuple]:
    """Writes its worker's pid to each path it starts on, then takes 0.1 s per item."""
    out = []
    for spec in specs:
        Path(spec).write_text(str(os.getpid()))
        time.sleep(0.1)
        out.append(("ok", Path(spec).name))
    return out


def test_on_dask_a_worker_killed_mid_batch_costs_no_file(dask_client, tmp_path, caplog):
    specs = [str(tmp_path / f"m{i:02d}") for i in range(16)]
    dask_client.wait_for_workers(2, timeout=60)  # the last test's dead worker restarts
    victim = next(iter(dask_client.run(os.getpid).values()))

    def kill_in_the_middle_of_its_batch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(p.read_text() == str(victim) for p in tmp_path.iterdir()):
                break
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)

    killer = threading.Thread(target=kill_in_the_middle_of_its_batch)
    killer.start()
    runner = Runner(client=dask_client, batch_size=4, progress=False)
    results = run_batches(sleepy_batch, specs, {}, runner, "test")
    killer.join()
    assert not alive(victim)
    # The files the dead worker held are read again, one per task: none is lost.
    assert results == [("ok", Path(s).name) for s in specs]
    assert "retried one per task" in caplog.text


# --------------------------------------------------------------------------------------
# Signals: SIGTERM stops the build and its workers; workers exit when the parent dies
# --------------------------------------------------------------------------------------

BUILD_SCRIPT = """
import os, sys, time
from miwd_widget.library.executor import Runner, run_batches

pids = sys.argv[1]

def slow(specs, threads=None):
    open(os.path.join(pids, str(os.getpid())), "w").close()
    time.sleep(120)
    return [("ok", s) for s in specs]

run_batches(slow, list(range(8)), {}, Runner(n_jobs=2, batch_size=1, progress=False), "t")
print("finished")
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def start_and_wait_for_workers(command: list[str], pids: Path) -> tuple[subprocess.Popen, list]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120  # a loaded machine starts workers slowly
    while len(list(pids.iterdir())) < 2:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"workers never started: {proc.communicate()}")
        time.sleep(0.2)
    workers = [int(p.name) for p in pids.iterdir()]
    assert all(alive(w) for w in workers)
    return proc, workers


def assert_gone_within(workers: list[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [w for w in workers if alive(w)]
    for w in left:  # do not leave them behind even if the test fails
        os.kill(w, signal.SIGKILL)
    assert not left, f"workers {left} outlived their parent"


def test_sigterm_stops_the_build_and_kills_its_workers(tmp_path):
    proc, workers = start_and_wait_for_workers(
        [sys.executable, "-c", BUILD_SCRIPT, str(tmp_path)], tmp_path
    )
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert "KeyboardInterrupt: signal SIGTERM" in err and "finished" not in out
    assert_gone_within(workers, 5)


def test_workers_exit_when_their_parent_is_killed(tmp_path):
    proc, workers = start_and_wait_for_workers(
        [sys.executable, "-c", BUILD_SCRIPT, str(tmp_path)], tmp_path
    )
    proc.kill()  # SIGKILL: no handler runs in the parent
    proc.communicate(timeout=30)
    assert_gone_within(workers, 5)


CLI_SCRIPT = """
import os, sys, time
import miwd_widget.library.build as build
from miwd_widget.cli import main

pids = sys.argv[1]
real = build.sample_batch

def slow(specs, *args, **kwargs):  # a build whose reading takes long
    open(os.path.join(pids, str(os.getpid())), "w").close()
    time.sleep(120)
    return real(specs, *args, **kwargs)

build.sample_batch = slow
sys.exit(main(["build", *sys.argv[2:], "-o", os.path.join(pids, "..", "lib.parquet"),
               "--jobs", "2"]))
"""


def test_miwd_build_under_sigterm_stops_like_ctrl_c(tmp_path):
    models, pids = tmp_path / "models", tmp_path / "pids"
    models.mkdir()
    pids.mkdir()
    for i in range(6):
        np.save(models / f"m{i}.npy", np.linspace(-1, 1, 64 + i))
    script = textwrap.dedent(CLI_SCRIPT)
    proc, workers = start_and_wait_for_workers(
        [sys.executable, "-c", script, str(pids), str(models)], pids
    )
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert err.strip().endswith("interrupted")
    assert not (tmp_path / "lib.parquet").exists()
    assert_gone_within(workers, 5)


LIBRARY_SCRIPT = """
import os, signal, sys
import miwd_widget.library.build as build
from miwd_widget import ModelLibrary

real = build.describe_batch

def describe_or_die(specs, *args, **kwargs):  # a reader that dies on one named file
    if any(os.path.basename(str(s)) == "m3.npy" for s in specs):
        os.kill(os.getpid(), signal.SIGBUS)
    return real(specs, *args, **kwargs)

build.describe_batch = describe_or_die
lib = ModelLibrary.from_files(sys.argv[1], S=4, B=4, value_range=(-1, 1), n_jobs=2,
                              batch_size=3, progress=False)
print(sorted(os.path.basename(s) for s in lib.metadata["source"]))
print(lib.errors.to_dict("records"))
"""


def test_from_files_with_a_worker_killed_by_one_file_builds_the_rest(tmp_path):
    for i in range(8):
        np.save(tmp_path / f"m{i}.npy", np.linspace(-1, 1, 32 + i))
    proc = subprocess.run(
        [sys.executable, "-c", LIBRARY_SCRIPT, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    described, errors = proc.stdout.strip().splitlines()
    assert described == str([f"m{i}.npy" for i in range(8) if i != 3])
    path = tmp_path / "m3.npy"
    assert errors == str(
        [
            {
                "source": str(path),
                "error": f"{path}: the worker process reading it died (exit code SIGBUS(-7))",
            }
        ]
    )
