"""The CI fuzz corpus: every broken or hostile file is a clean, named error or read correctly.

160 cases of a fixed seed (see fuzz_corpus.py for the generators and the judge), each
read by ``flatten_weights``; then the readable and unreadable cases together go through
``ModelLibrary.from_files``, which must record each failure and describe the rest.
``benchmarks/bench_fuzz.py`` runs a larger corpus in subprocesses (hangs and crashes too).
"""

from __future__ import annotations

import collections
import resource
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import fuzz_corpus  # noqa: E402

SEED, N_CASES = 20261202, 160


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    previous = fuzz_corpus.small_limits()
    root = tmp_path_factory.mktemp("fuzz")
    cases = [fuzz_corpus.make_case(root, SEED, i) for i in range(N_CASES)]
    yield cases
    from miwd_widget.weights import guard

    guard.set_read_limits(**vars(previous))


@pytest.fixture
def bounded_memory():
    """A broken file must not make a reader allocate gigabytes on a shared machine."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/status") as f:
        used = next(int(line.split()[1]) << 10 for line in f if line.startswith("VmSize"))
    limit = used + (3 << 30)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    yield
    resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_the_corpus_covers_every_kind_and_format(corpus):
    names = collections.Counter(case.name.split("/")[-1] for case in corpus)
    assert set(names) == set(fuzz_corpus.KINDS)
    formats = {case.name.split("/")[0] for case in corpus if "/" in case.name}
    assert formats == set(fuzz_corpus.FORMATS)


def test_every_case_is_a_clean_named_error_or_correct(corpus, bounded_memory):
    outcomes = collections.Counter()
    bad = []
    for case in corpus:
        outcome, detail = fuzz_corpus.judge(case)
        outcomes[outcome] += 1
        if outcome in fuzz_corpus.BAD:
            bad.append(f"{case.path} ({case.name}): {outcome}: {detail}")
    assert not bad, "\n".join(bad)
    # Both outcomes occur: the judge can tell a readable damaged file from a broken one.
    assert outcomes["clean error"] > 0 and outcomes["correct"] > 0, outcomes


def test_a_library_build_over_the_corpus_records_each_failure_and_goes_on(corpus, bounded_memory):
    import numpy as np

    from miwd_widget import ModelLibrary, flatten_weights

    verdicts = {str(case.path): fuzz_corpus.judge(case)[0] for case in corpus}
    # Readable models with NaN (damaged float bytes) fail later, in the descriptor: named too.
    finite = {
        p
        for p, outcome in verdicts.items()
        if outcome == "correct" and np.isfinite(flatten_weights(p)).all()
    }
    lib = ModelLibrary.from_files(list(verdicts), S=4, B=4, value_range=(-3.0, 3.0), n_jobs=1)
    failed = list(lib.errors["source"])
    described = list(lib.metadata["source"]) if len(lib) else []
    # Each file once, none lost; a directory holding no model is scanned and adds nothing
    # (expand_paths' documented rule), whereas open_weights refuses it by name.
    scanned = {p for p in verdicts if Path(p).is_dir() and not Path(p).is_symlink()}
    assert sorted(failed + described) == sorted(set(verdicts) - scanned)
    assert set(described) == finite
    for source, message in zip(lib.errors["source"], lib.errors["error"], strict=True):
        assert str(Path(source).parent) in message or source in message, (source, message)


@pytest.mark.parametrize("fmt", sorted(fuzz_corpus.FORMATS))
def test_the_judge_refuses_the_right_weights_in_the_wrong_order(tmp_path, monkeypatch, fmt):
    import numpy as np

    import miwd_widget.weights as weights

    case = fuzz_corpus.make_valid_case(tmp_path, fmt)
    assert fuzz_corpus.judge(case) == ("correct", f"{case.reference().size} weights")
    tensors = [
        np.concatenate([np.asarray(c, np.float64) for c in t.chunks()])
        for t in weights.open_weights(case.path).tensors
    ]
    # A reader that reverses the tensors (or, with one tensor, its values) of a valid file.
    wrong = np.concatenate(tensors[::-1]) if len(tensors) > 1 else tensors[0][::-1]
    monkeypatch.setattr(weights, "flatten_weights", lambda path: wrong)
    outcome, detail = fuzz_corpus.judge(case)
    assert outcome == "wrong weights"
    assert detail.startswith("the same values in another order: first difference at weight ")
