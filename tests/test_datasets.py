"""The dataset plugins on disk: caching, atomicity, corruption, concurrency and clear errors."""
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

from distributions import run_refsuite
from refsuite import DatasetError, UsageError
from refsuite.datasets.base import DatasetSelection
from refsuite.datasets.cifar10 import CIFAR10
from refsuite.datasets.cifar_format import BASE_FOLDER, file_digest
from refsuite.datasets.synthetic import MANIFEST, SyntheticCIFAR10


def _root(path):
    """A data root: it must exist (refsuite never creates one)."""
    path.mkdir()
    return path


def test_a_data_root_is_never_created(tmp_path):
    root = tmp_path / "missing"
    with pytest.raises(UsageError, match=f"data root {root} does not exist"):
        SyntheticCIFAR10(100, 20).ensure(root)
    assert not root.exists()


@pytest.fixture
def small():
    return SyntheticCIFAR10(train_size=100, test_size=20, seed=3)


def test_generation_is_deterministic_and_read_by_torchvision(small, tmp_path):
    a, expected_a = small.ensure(_root(tmp_path / "a"))
    b, _ = small.ensure(_root(tmp_path / "b"))
    for name, digest in expected_a.digests.items():
        assert file_digest(a / BASE_FOLDER / name, "sha256") == file_digest(b / BASE_FOLDER / name, "sha256") == digest
    ds = small.load(tmp_path / "a", download=False)
    assert (len(ds.train), len(ds.test)) == (100, 20)
    image, label = ds.train[0]
    assert image.size == (32, 32) and 0 <= label < 10
    assert type(ds.train).__mro__[1].__module__ == "torchvision.datasets.cifar"


def test_other_seed_other_data(tmp_path):
    _, m1 = SyntheticCIFAR10(100, 20, seed=1).ensure(tmp_path)
    _, m2 = SyntheticCIFAR10(100, 20, seed=2).ensure(tmp_path)
    assert m1.digests["data_batch_1"] != m2.digests["data_batch_1"]


def test_corrupt_cache_is_detected_and_regenerated(small, tmp_path):
    target, expected = small.ensure(tmp_path)
    batch = target / BASE_FOLDER / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-10] + b"0123456789")
    with pytest.warns(UserWarning, match="data_batch_2 does not match the generated data.*regenerating"):
        small.ensure(tmp_path)
    assert file_digest(batch, "sha256") == expected.digests["data_batch_2"]


def test_corrupt_file_is_never_unpickled(small, tmp_path, monkeypatch):
    target, _ = small.ensure(tmp_path)
    (target / BASE_FOLDER / "test_batch").write_bytes(b"not a pickle")

    def forbidden(*a, **k):
        raise AssertionError("a file was unpickled before its checksum was verified")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monkeypatch.setattr(pickle, "load", forbidden)
        small.ensure(tmp_path)  # verifies and regenerates without unpickling anything


def test_the_default_generations_digests_in_the_code_are_what_it_generates():
    import numpy as np

    from refsuite.datasets import synthetic

    if np.lib.NumpyVersion(np.__version__) < "2.0.0":
        pytest.skip("numpy 1 pickles arrays under other module names: the default cache is checked by rendering it")
    key = (synthetic.FORMAT_VERSION, 0, *synthetic.DEFAULT_SIZE)
    fresh = synthetic.expected(*key[1:])
    assert synthetic.KNOWN.get(key) == fresh, f"update synthetic.KNOWN[{key}] to {fresh}"


def test_a_cache_matching_the_known_digests_is_not_rendered_and_a_changed_file_is(small, tmp_path, monkeypatch):
    from refsuite.datasets import synthetic, synthetic_generation

    target, want = small.ensure(tmp_path)
    monkeypatch.setitem(synthetic.KNOWN, (synthetic.FORMAT_VERSION, 3, 100, 20), want)
    monkeypatch.setattr(synthetic_generation, "_EXPECTED", {})
    render = synthetic_generation.render

    def forbidden(*a, **k):
        raise AssertionError("a cache with the known digests was rendered again")

    monkeypatch.setattr(synthetic_generation, "render", forbidden)
    assert small.ensure(tmp_path) == (target, want)
    monkeypatch.setattr(synthetic_generation, "render", render)
    (target / BASE_FOLDER / "data_batch_1").write_bytes(b"not a pickle")
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled before its checksum was verified"))
    with pytest.warns(UserWarning, match="corrupt"):
        assert small.ensure(tmp_path) == (target, want)


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
    cache = _root(tmp_path / "cache")
    procs = [subprocess.Popen([sys.executable, "-c", GENERATE, str(cache), str(log), "3000"]) for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    assert log.read_text().count("generated") == 1


@pytest.mark.slow
def test_sigkill_during_generation_leaves_nothing_half_written(tmp_path):
    cache = _root(tmp_path / "cache")
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
    target, _ = plugin.ensure(cache)  # the next run succeeds and cleans up
    assert (target / MANIFEST).exists() and not list(cache.glob(".*.partial"))
    assert len(plugin.load(cache, False).train) == 20000


def _count_hashes(monkeypatch) -> dict:
    from refsuite.datasets import cifar10, cifar_format, synthetic

    counts: dict = {}
    real = cifar_format.hashed_read

    def counted(path, algorithm="md5"):
        counts[Path(path).name] = counts.get(Path(path).name, 0) + 1
        return real(path, algorithm)

    for module in (cifar_format, synthetic, cifar10):
        monkeypatch.setattr(module, "hashed_read", counted)
    return counts


def test_synthetic_load_hashes_each_file_once(small, tmp_path, monkeypatch):
    small.ensure(tmp_path)  # generated (and hashed while written) before the load counted below
    counts = _count_hashes(monkeypatch)
    small.load(tmp_path, False)
    assert counts == dict.fromkeys(["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                                    "test_batch", "batches.meta"], 1)


def test_cifar10_load_hashes_each_file_once_and_still_refuses_a_changed_file(small, tmp_path, monkeypatch):
    from refsuite.datasets import cifar10

    target, _ = small.ensure(_root(tmp_path / "gen"))
    os.replace(target / BASE_FOLDER, tmp_path / BASE_FOLDER)
    # stand-ins for the published sums: these files are not CIFAR-10's
    sums = {p.name: file_digest(p) for p in (tmp_path / BASE_FOLDER).iterdir()}
    monkeypatch.setattr(cifar10, "_published", lambda: ([(f"data_batch_{i}", sums[f"data_batch_{i}"]) for i in range(1, 6)],
                                                        ("test_batch", sums["test_batch"]), ("batches.meta", sums["batches.meta"])))
    selection = DatasetSelection.from_options({"cifar10": CIFAR10()}, "cifar10", str(tmp_path), False)
    counts = _count_hashes(monkeypatch)
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
    target, _ = small.ensure(_root(tmp_path / "gen"))
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


@pytest.mark.slow
def test_show_batch_writes_a_png(tmp_path):
    out = tmp_path / "grid.png"
    res = run_refsuite("show-batch", "--out", str(out), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert Image.open(out).size == (138 * 4, 36 * 4 + 28)  # the tiles, enlarged 4×, and a band for their labels


MALICIOUS = """
import os, pickle
class Planted:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))
with open({path!r}, "wb") as fh:
    pickle.dump({{"data": Planted(), "labels": []}}, fh, protocol=2)
"""


def test_a_planted_pickle_with_a_recomputed_manifest_is_never_unpickled(small, tmp_path):
    import hashlib
    import json

    target, _ = small.ensure(tmp_path)
    batch = target / BASE_FOLDER / "data_batch_1"
    marker = tmp_path / "planted-code-ran"
    subprocess.run([sys.executable, "-c", MALICIOUS.format(marker=marker, path=str(batch))], check=True)
    # what an attacker who can write the cache would also do: make the file beside the data agree
    manifest = json.loads((target / MANIFEST).read_text())
    manifest["md5"] = {"data_batch_1": hashlib.md5(batch.read_bytes()).hexdigest()}
    manifest["sha256"] = {"data_batch_1": hashlib.sha256(batch.read_bytes()).hexdigest()}
    (target / MANIFEST).write_text(json.dumps(manifest))
    with pytest.warns(UserWarning, match="data_batch_1 does not match the generated data"):
        loaded = small.load(tmp_path, False)
    assert len(loaded.train) == 100 and not marker.exists(), "the planted pickle was unpickled"


def test_a_valid_cache_is_read_without_taking_the_lock(small, tmp_path):
    target, _ = small.ensure(tmp_path)
    lock = Path(str(target) + ".lock")
    lock.unlink(missing_ok=True)
    tmp_path.chmod(0o500)  # read-only (root could still write: the lock file is what is checked)
    try:
        assert len(small.load(tmp_path, False).test) == 20
        assert not lock.exists(), "reading a valid cache must not need a lock file"
    finally:
        tmp_path.chmod(0o700)


def test_a_cache_others_may_write_is_refused(tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("REFSUITE_CACHE", str(shared))
    problem = SyntheticCIFAR10(100, 20).problem(None, False)
    assert "group or others may write it" in problem and "REFSUITE_CACHE" in problem
    with pytest.raises(UsageError, match="group or others may write it"):
        SyntheticCIFAR10(100, 20).load(None, False)
    assert not list(shared.iterdir()), "nothing is written into a refused cache"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root")
def test_a_cache_owned_by_another_user_is_refused(tmp_path, monkeypatch):
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o755)
    os.chown(theirs, 65534, 65534)
    monkeypatch.setenv("REFSUITE_CACHE", str(theirs))
    assert "owned by uid 65534" in SyntheticCIFAR10(100, 20).problem(None, False)


def test_a_waiting_process_says_so(small, tmp_path):
    from filelock import FileLock

    target = small.directory(tmp_path)
    script = "import sys; from refsuite.datasets.synthetic import SyntheticCIFAR10; SyntheticCIFAR10(100, 20, seed=3).ensure(sys.argv[1])"
    with FileLock(str(target) + ".lock"):
        proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stderr=subprocess.PIPE, text=True)
        line = proc.stderr.readline()  # blocks until the waiting process speaks
    proc.wait(timeout=120)
    assert line.startswith("refsuite: waiting 3 s for synthetic-cifar10") and str(target) + ".lock" in line, line
    assert proc.returncode == 0


@pytest.mark.parametrize("text", ["abc", "5000", "5000,1000,7", "9,100", "100,-3", "100,200001", "1e3,100"])
def test_size_settings_out_of_range_are_usage_errors(text, monkeypatch):
    monkeypatch.setenv("REFSUITE_SYNTHETIC_SIZE", text)
    assert f"REFSUITE_SYNTHETIC_SIZE={text!r}" in SyntheticCIFAR10().problem(None, False)


def test_sizes_that_do_not_divide_by_five_give_exact_counts_and_statistics(tmp_path):
    import numpy as np

    plugin = SyntheticCIFAR10(11, 10, seed=1)
    ds = plugin.load(tmp_path, False)
    assert (len(ds.train), len(ds.test)) == (11, 10)
    pixels = ds.train.data.astype(np.float64) / 255
    np.testing.assert_allclose(ds.mean, pixels.mean(axis=(0, 1, 2)), rtol=1e-12)
    np.testing.assert_allclose(ds.std, pixels.reshape(-1, 3).std(axis=0, ddof=1), rtol=1e-9)
