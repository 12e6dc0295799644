"""What refsuite trusts on disk: the whole path to its cache, the dataset directories in it, and the
bytes it unpickles. Another user is simulated by chown to uid 1001 (needs root)."""
import os
import stat
import subprocess
import sys
import warnings

import pytest

from refsuite import DatasetError, UsageError
from refsuite.core.cache import private_dir, private_tree, refuse_unless_private
from refsuite.datasets.cifar10 import CIFAR10
from refsuite.datasets.cifar_format import BASE_FOLDER, file_digest
from refsuite.datasets.synthetic import SyntheticCIFAR10

OTHER = 1001
as_root = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown to another user needs root")


def _theirs(path, mode=0o755):
    """A directory another user owns."""
    path.mkdir(mode=mode)
    path.chmod(mode)
    os.chown(path, OTHER, OTHER)
    return path


@pytest.fixture
def small():
    return SyntheticCIFAR10(train_size=100, test_size=20, seed=3)


def test_pytest_tmp_path_and_tmp_itself_are_accepted(tmp_path):
    assert private_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700, "missing components are made private"
    info = os.stat("/tmp")
    assert info.st_mode & stat.S_ISVTX and info.st_uid == 0  # the case the sticky rule is for


def test_a_group_writable_parent_is_refused_and_nothing_is_made_below_it(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    with pytest.raises(UsageError, match=rf"refusing {shared}: group or others may write it \(mode drwxrwxr-x\).*REFSUITE_CACHE"):
        private_dir(shared / "cache" / "deeper")
    assert not list(shared.iterdir())


def test_a_sticky_directory_others_may_write_is_accepted_as_a_parent_only(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    assert private_dir(sticky / "cache").is_dir()
    with pytest.raises(UsageError, match="group or others may write it"):
        refuse_unless_private(sticky)  # the cache itself must be private, sticky or not


@as_root
def test_a_directory_in_a_sticky_directory_owned_by_another_user_is_refused(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    theirs = _theirs(sticky / "theirs")
    with pytest.raises(UsageError, match=rf"refusing {theirs}: it is owned by uid {OTHER}, not by you \(uid 0\) or root"):
        private_dir(theirs / "cache")
    assert not (theirs / "cache").exists()


@as_root
def test_a_symlinked_parent_to_another_users_directory_is_refused(tmp_path, monkeypatch):
    theirs = _theirs(tmp_path / "theirs")
    link = tmp_path / "link"
    link.symlink_to(theirs)
    message = rf"refusing {link}: a symlink to a directory owned by uid {OTHER} \({theirs}\); set \$REFSUITE_CACHE"
    with pytest.raises(UsageError, match=message):
        private_dir(link / "refsuite")
    monkeypatch.setenv("REFSUITE_CACHE", str(link / "refsuite"))
    assert "a symlink to a directory owned by uid 1001" in SyntheticCIFAR10(100, 20).problem(None, False)
    with pytest.raises(UsageError, match="a symlink to a directory owned by uid 1001"):
        SyntheticCIFAR10(100, 20).load(None, False)
    assert not list(theirs.iterdir()), "nothing is written into another user's directory"


@as_root
def test_a_link_deeper_in_a_links_target_is_checked_too(tmp_path):
    theirs = _theirs(tmp_path / "theirs")
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    (mine / "inner").symlink_to(theirs)
    outer = tmp_path / "outer"
    outer.symlink_to(mine / "inner")
    with pytest.raises(UsageError, match=rf"refusing {outer}: a symlink to a directory owned by uid {OTHER}"):
        private_dir(outer / "cache")


def test_a_symlinked_parent_to_a_directory_of_yours_is_followed(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to("mine")  # relative, as links often are
    private_dir(link / "cache")
    assert (mine / "cache").is_dir()


@as_root
def test_a_link_another_user_owns_is_refused_even_to_a_directory_of_yours(tmp_path):
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    target = tmp_path / "system"
    target.mkdir(mode=0o755)
    link = sticky / "link"
    link.symlink_to(target)
    os.lchown(link, OTHER, OTHER)  # what another user can plant in /tmp
    with pytest.raises(UsageError, match=rf"refusing {link}: a symlink owned by uid {OTHER}"):
        private_dir(link / "cache")
    assert not list(target.iterdir()), "nothing is created where another user's link leads"


def test_nothing_is_created_where_a_dangling_link_leads(tmp_path):
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(UsageError, match=rf"refusing {link}: a symlink to .*elsewhere.*which does not exist"):
        private_dir(link / "cache")
    assert not (tmp_path / "elsewhere").exists()


def test_the_cache_directory_itself_must_not_be_a_link(tmp_path):
    (tmp_path / "real").mkdir(mode=0o700)
    (tmp_path / "cache").symlink_to("real")
    with pytest.raises(UsageError, match=rf"refusing {tmp_path / 'cache'}: it is a symbolic link"):
        private_dir(tmp_path / "cache")


def test_a_dataset_folder_that_is_a_symlink_is_refused_not_followed(small, tmp_path):
    cache = tmp_path / "cache"
    elsewhere = tmp_path / "elsewhere"
    real, _ = small.ensure(private_dir(elsewhere))
    small.directory(private_dir(cache)).symlink_to(real)
    before = {p.name: p.stat().st_mtime_ns for p in (real / BASE_FOLDER).iterdir()}
    problem = small.problem(cache, False)
    assert problem.startswith(f"refusing {small.directory(cache)}: it is a symbolic link"), problem
    with pytest.raises(UsageError, match="it is a symbolic link"):
        small.load(cache, False)
    assert small.directory(cache).is_symlink(), "a refused link is left for the user to look at"
    assert before == {p.name: p.stat().st_mtime_ns for p in (real / BASE_FOLDER).iterdir()}


@pytest.mark.parametrize("inside", [BASE_FOLDER, f"{BASE_FOLDER}/data_batch_3"])
def test_a_symlink_inside_a_dataset_folder_is_refused(small, tmp_path, inside):
    target, _ = small.ensure(tmp_path)
    moved = tmp_path / "moved"
    os.replace(target / inside, moved)
    (target / inside).symlink_to(moved)
    with pytest.raises(UsageError, match=rf"refusing {target / inside}: a symbolic link inside {target}"):
        small.load(tmp_path, False)


@as_root
def test_a_dataset_folder_another_user_owns_is_refused(small, tmp_path):
    target, _ = small.ensure(tmp_path)
    os.chown(target / BASE_FOLDER, OTHER, OTHER)
    with pytest.raises(UsageError, match=rf"refusing {target / BASE_FOLDER}: it is owned by uid {OTHER}"):
        small.load(tmp_path, False)


def test_generated_files_are_private_whatever_the_umask(small, tmp_path):
    old = os.umask(0o002)
    try:
        target, _ = small.ensure(tmp_path)
    finally:
        os.umask(old)
    assert private_tree(target) == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no regeneration: what was generated passes the check
        small.load(tmp_path, False)


def test_a_dataset_folder_group_may_write_is_regenerated(small, tmp_path):
    target, _ = small.ensure(tmp_path)
    (target / BASE_FOLDER / "test_batch").chmod(0o664)
    with pytest.warns(UserWarning, match=r"test_batch is not private \(group or others may write it\)\); regenerating"):
        small.load(tmp_path, False)
    assert private_tree(target) == []


MALICIOUS = """
import os, pickle, sys
class Planted:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
path = sys.argv[1]
info = os.stat(path)
payload = pickle.dumps({"data": Planted(), "labels": []}, protocol=2)
assert len(payload) <= info.st_size
with open(path, "r+b") as fh:  # in place: same inode, same size
    fh.write(payload + b"\\0" * (info.st_size - len(payload)))
os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))  # and the time it had
"""


def _plant(path, marker):
    before = os.stat(path)
    subprocess.run([sys.executable, "-c", MALICIOUS, str(path), str(marker)], check=True)
    after = os.stat(path)
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def test_a_file_rewritten_in_place_with_its_size_and_time_is_hashed_again_and_never_unpickled(small, tmp_path):
    cache = private_dir(tmp_path / "cache")
    small.load(cache, False)  # every file read and hashed once in this process
    marker = tmp_path / "planted-code-ran"
    _plant(small.directory(cache) / BASE_FOLDER / "data_batch_1", marker)
    with pytest.warns(UserWarning, match=r"data_batch_1 does not match the generated data.*regenerating"):
        assert len(small.load(cache, False).train) == 100
    assert not marker.exists(), "the planted pickle was unpickled"


def test_refsuites_own_reader_names_a_rewritten_file_and_never_unpickles_it(small, tmp_path):
    ds = small.load(tmp_path, False)
    marker = tmp_path / "planted-code-ran"
    _plant(ds.folder / "data_batch_4", marker)
    with pytest.raises(DatasetError, match=rf"{ds.folder / 'data_batch_4'} is corrupt: its sha256 .* does not match"):
        ds.written()
    assert not marker.exists(), "the planted pickle was unpickled"


def test_a_file_changed_between_refsuites_check_and_torchvisions_is_refused(small, tmp_path, monkeypatch):
    marker = tmp_path / "planted-code-ran"
    small.ensure(tmp_path)
    real = SyntheticCIFAR10._ensure

    def then_changed(self, root):
        checked = real(self, root)
        _plant(checked[0] / BASE_FOLDER / "data_batch_2", marker)
        return checked

    monkeypatch.setattr(SyntheticCIFAR10, "_ensure", then_changed)
    with pytest.raises(DatasetError, match=r"changed while it was read"):
        small.load(tmp_path, False)
    assert not marker.exists(), "the planted pickle was unpickled"


def _as_cifar10(small, tmp_path, monkeypatch):
    """Synthetic files in the data root, their md5s standing in for the published ones."""
    from refsuite.datasets import cifar10

    target, _ = small.ensure(private_dir(tmp_path / "gen"))
    os.replace(target / BASE_FOLDER, tmp_path / BASE_FOLDER)
    sums = {p.name: file_digest(p) for p in (tmp_path / BASE_FOLDER).iterdir()}
    monkeypatch.setattr(cifar10, "_published", lambda: ([(f"data_batch_{i}", sums[f"data_batch_{i}"]) for i in range(1, 6)],
                                                        ("test_batch", sums["test_batch"]), ("batches.meta", sums["batches.meta"])))
    return tmp_path / BASE_FOLDER


def test_cifar10_a_file_rewritten_in_place_is_corrupt_and_never_unpickled(small, tmp_path, monkeypatch):
    folder = _as_cifar10(small, tmp_path, monkeypatch)
    assert len(CIFAR10().load(tmp_path, False).train) == 100
    marker = tmp_path / "planted-code-ran"
    _plant(folder / "data_batch_5", marker)
    with pytest.raises(DatasetError, match=rf"{folder / 'data_batch_5'} is corrupt: md5 .* != published"):
        CIFAR10().load(tmp_path, False)
    assert not marker.exists(), "the planted pickle was unpickled"


def test_cifar10_a_linked_or_writable_dataset_folder_is_refused(small, tmp_path, monkeypatch):
    folder = _as_cifar10(small, tmp_path, monkeypatch)
    (folder / "batches.meta").chmod(0o666)
    problem = CIFAR10().problem(tmp_path, False)
    assert problem.startswith(f"refusing {folder / 'batches.meta'}: group or others may write it"), problem
    (folder / "batches.meta").chmod(0o644)
    assert CIFAR10().problem(tmp_path, False) is None
    os.replace(folder, tmp_path / "real")
    folder.symlink_to(tmp_path / "real")
    assert CIFAR10().problem(tmp_path, False).startswith(f"refusing {folder}: it is a symbolic link")
    with pytest.raises(DatasetError, match="it is a symbolic link"):
        CIFAR10().load(tmp_path, False)


@as_root
def test_cifar10_accepts_a_root_owned_copy_and_refuses_another_users(small, tmp_path, monkeypatch):
    folder = _as_cifar10(small, tmp_path, monkeypatch)
    assert CIFAR10().problem(tmp_path, False) is None  # root's (and yours, here): accepted
    os.chown(folder, OTHER, OTHER)
    assert f"refusing {folder}: it is owned by uid {OTHER}" in CIFAR10().problem(tmp_path, False)


def test_a_dataset_folder_replaced_while_checked_waits_for_the_lock_instead_of_failing(small, tmp_path, monkeypatch):
    from refsuite.datasets import synthetic

    target, want = small.ensure(tmp_path)
    calls = []

    def vanishing(path, **kw):  # the first two checks run while another process swaps the folder
        calls.append(path)
        if len(calls) <= 2:
            raise FileNotFoundError(2, "No such file or directory", str(path))
        return private_tree(path, **kw)

    monkeypatch.setattr(synthetic, "private_tree", vanishing)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # intact under the lock: nothing regenerated
        assert small.ensure(tmp_path) == (target, want)
    assert len(calls) >= 3


def test_a_symlinked_parent_to_a_directory_others_may_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    link = tmp_path / "link"
    link.symlink_to(shared)
    with pytest.raises(UsageError, match=rf"refusing {link}: a symlink to a directory group or others may write \({shared}, mode drwxrwxrwx\)"):
        private_dir(link / "cache")
    assert not list(shared.iterdir())
