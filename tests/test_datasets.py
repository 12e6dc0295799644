"""The dataset plugins on disk: caching, atomicity, corruption, concurrency and clear errors."""
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import pytest

from distributions import run_refsuite
from refsuite import DatasetError, UsageError
from refsuite.datasets.base import DatasetSelection
from refsuite.datasets.cifar10 import CIFAR10
from refsuite.datasets.cifar_format import BASE_FOLDER, md5
from refsuite.datasets.synthetic import MANIFEST, SyntheticCIFAR10


@pytest.fixture
def small():
    return SyntheticCIFAR10(train_size=100, test_size=20, seed=3)


def test_generation_is_deterministic_and_read_by_torchvision(small, tmp_path):
    a, manifest_a = small.ensure(tmp_path / "a")
    b, manifest_b = small.ensure(tmp_path / "b")
    assert manifest_a["md5"] == manifest_b["md5"]
    ds = small.load(tmp_path / "a", download=False)
    assert (len(ds.train), len(ds.test)) == (100, 20)
    image, label = ds.train[0]
    assert image.size == (32, 32) and 0 <= label < 10
    assert type(ds.train).__mro__[1].__module__ == "torchvision.datasets.cifar"


def test_other_seed_other_data(tmp_path):
    _, m1 = SyntheticCIFAR10(100, 20, seed=1).ensure(tmp_path)
    _, m2 = SyntheticCIFAR10(100, 20, seed=2).ensure(tmp_path)
    assert m1["md5"]["data_batch_1"] != m2["md5"]["data_batch_1"]


def test_corrupt_cache_is_detected_and_regenerated(small, tmp_path):
    target, manifest = small.ensure(tmp_path)
    batch = target / BASE_FOLDER / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-10] + b"0123456789")
    with pytest.warns(UserWarning, match="data_batch_2 fails its md5 checksum.*regenerating"):
        _, again = small.ensure(tmp_path)
    assert md5(batch) == manifest["md5"]["data_batch_2"] == again["md5"]["data_batch_2"]


def test_corrupt_file_is_never_unpickled(small, tmp_path, monkeypatch):
    target, _ = small.ensure(tmp_path)
    (target / BASE_FOLDER / "test_batch").write_bytes(b"not a pickle")

    def forbidden(*a, **k):
        raise AssertionError("a file was unpickled before its checksum was verified")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(pickle, "load", forbidden)
        small.ensure(tmp_path)  # verifies and regenerates without unpickling anything


GENERATE = textwrap.dedent(
    """
    import sys
    from refsuite.datasets import synthetic
    original = synthetic.generate
    def counted(*a, **k):
        with open(sys.argv[2], "a") as fh:
            fh.write("generated\\n")
        original(*a, **k)
    synthetic.generate = counted
    synthetic.SyntheticCIFAR10(int(sys.argv[3]), 20, seed=0).ensure(sys.argv[1])
    """
)


def test_parallel_processes_generate_once(tmp_path):
    log = tmp_path / "log"
    procs = [subprocess.Popen([sys.executable, "-c", GENERATE, str(tmp_path / "cache"), str(log), "3000"]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert log.read_text().count("generated") == 1


def test_sigkill_during_generation_leaves_nothing_half_written(tmp_path):
    cache = tmp_path / "cache"
    proc = subprocess.Popen([sys.executable, "-c", GENERATE, str(cache), str(tmp_path / "log"), "20000"])
    deadline = time.time() + 60
    while not list(cache.glob(".*.partial/data/*/data_batch_1")) and time.time() < deadline:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the writer finished before it could be killed"
    plugin = SyntheticCIFAR10(20000, 20, seed=0)
    assert not plugin.directory(cache).exists(), "a killed writer must not leave the final directory"
    assert list(cache.glob(".*.partial")), "the half-written data stays in its temporary directory"
    target, manifest = plugin.ensure(cache)  # the next run succeeds and cleans up
    assert (target / MANIFEST).exists() and not list(cache.glob(".*.partial"))
    assert len(plugin.load(cache, False).train) == 20000


def _count_hashes(monkeypatch) -> dict:
    from refsuite.datasets import cifar_format

    counts: dict = {}
    real = cifar_format._hash

    def counted(path):
        counts[path.name] = counts.get(path.name, 0) + 1
        return real(path)

    monkeypatch.setattr(cifar_format, "_hash", counted)
    return counts


def test_synthetic_load_hashes_each_file_once(small, tmp_path, monkeypatch):
    small.ensure(tmp_path)  # generated (and hashed while written) before the load counted below
    from refsuite.datasets import cifar_format

    monkeypatch.setattr(cifar_format, "_HASHED", {})
    counts = _count_hashes(monkeypatch)
    small.load(tmp_path, False)
    assert counts == dict.fromkeys(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                                    "test_batch", "batches.meta"], 1)


def test_cifar10_load_hashes_each_file_once_and_still_refuses_a_changed_file(small, tmp_path, monkeypatch):
    from refsuite.datasets import cifar10, cifar_format

    target, manifest = small.ensure(tmp_path / "gen")
    os.replace(target / BASE_FOLDER, tmp_path / BASE_FOLDER)
    sums = manifest["md5"]  # stand-ins for the published sums: these files are not CIFAR-10's
    monkeypatch.setattr(cifar10, "_published", lambda: ([(f"data_batch_{i}", sums[f"data_batch_{i}"]) for i in range(1, 6)],
                                                        ("test_batch", sums["test_batch"]), ("batches.meta", sums["batches.meta"])))
    selection = DatasetSelection.from_options({"cifar10": CIFAR10()}, "cifar10", str(tmp_path), False)
    counts = _count_hashes(monkeypatch)
    monkeypatch.setattr(cifar_format, "_HASHED", {})
    selection = DatasetSelection.from_options({"cifar10": CIFAR10()}, "cifar10", str(tmp_path), False)
    assert len(selection.load().train) == 100
    assert set(counts.values()) == {1} and len(counts) == 7, counts
    # a file rewritten after it was hashed is hashed again, and refused
    batch = tmp_path / BASE_FOLDER / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-1] + b"\x00")
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled before checksum"))
    with pytest.raises(DatasetError, match="data_batch_2 is corrupt"):
        CIFAR10().load(tmp_path, False)


def test_cifar10_needs_a_root():
    assert "--data-root" in CIFAR10().problem(None, False)


def test_cifar10_missing_root_is_not_created(tmp_path):
    root = tmp_path / "nope"
    with pytest.raises(UsageError, match=f"data root {root} does not exist"):
        DatasetSelection.from_options({"cifar10": CIFAR10()}, "cifar10", str(root), True)
    assert not root.exists()


def test_cifar10_missing_files_name_the_path(tmp_path):
    problem = CIFAR10().problem(tmp_path, False)
    assert str(tmp_path / BASE_FOLDER / "data_batch_1") in problem and "missing" in problem and "--download" in problem


def test_cifar10_corrupt_file_is_named_and_never_unpickled(tmp_path, small, monkeypatch):
    # Files in CIFAR-10's format but not the published ones: every checksum fails.
    target, _ = small.ensure(tmp_path / "gen")
    os.replace(target / BASE_FOLDER, tmp_path / BASE_FOLDER)
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled before checksum"))
    with pytest.raises(DatasetError, match=r"data_batch_1 is corrupt: md5 .* != published"):
        CIFAR10().load(tmp_path, False)


def test_unknown_dataset_lists_the_available_ones():
    with pytest.raises(UsageError, match="unknown dataset 'mnist': available: cifar10, synthetic-cifar10"):
        DatasetSelection.from_options({"cifar10": CIFAR10(), "synthetic-cifar10": SyntheticCIFAR10()}, "mnist", None, False)


def test_run_with_missing_cifar10_root_is_a_clear_error(tmp_path):
    res = run_refsuite("run", "--dataset", "cifar10", "--data-root", str(tmp_path / "nonexistent"), cwd=tmp_path)
    assert res.returncode not in (0, 5)
    assert "does not exist (it is not created for you)" in res.stderr
    assert not (tmp_path / "nonexistent").exists()


def test_show_batch_writes_a_png(tmp_path):
    out = tmp_path / "grid.png"
    res = run_refsuite("show-batch", "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(out).size == (138 * 4, 36 * 4 + 24)
