"""Outputs (records, metrics.json, loss.png, show-batch's PNG): only a regular file is ever replaced,
and a write that fails (a full disk) is one line and exit 1, with everything written before kept.

A full disk is simulated by patching the write in the process that writes (in-process, or through a
``python -c`` wrapper around the refsuite command): nothing here fills a filesystem. Device files
are made in the test's own directory (``mknod``, where allowed), never /dev's.
"""
import errno
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

from refsuite.core import records
from refsuite.core.errors import UsageError
from refsuite.core.records import OutputError, check_writable, replacing, write_json

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
OTHER_UID = 4242


def _char_device(path):
    """A character device node in a test directory (the numbers of /dev/null), or a skip."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    return path


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


# --- refused before anything is written ------------------------------------------------------

def test_device_files_are_refused_at_option_check_without_writing_there():
    # only inspected: the refusal comes before anything is created beside them
    for device in ("/dev/null", "/dev/full"):
        before = os.stat(device)
        with pytest.raises(UsageError, match=rf"--record {device}: is a character device; refsuite replaces only a "
                                             r"regular file: give another path"):
            check_writable(device, "--record")
        after = os.stat(device)
        assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_a_device_node_is_never_replaced(tmp_path):
    node = _char_device(tmp_path / "null")
    with pytest.raises(UsageError, match="is a character device"):
        check_writable(node, "--record")
    with pytest.raises(OutputError, match=r"could not write .*null: it is a character device"):
        write_json(node, {"a": 1})
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert _leftovers(tmp_path) == []


def test_a_named_pipe_is_never_written(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match=r"--out .*fifo: is a named pipe \(FIFO\)"):
        check_writable(fifo, "--out")
    with pytest.raises(OutputError, match="is a named pipe"):
        write_json(fifo, {"a": 1})
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and _leftovers(tmp_path) == []


def test_a_path_that_became_special_after_the_check_is_not_replaced(tmp_path):
    path = tmp_path / "r.json"
    check_writable(path, "--record")
    os.mkfifo(path)  # swapped in while the run ran
    with pytest.raises(OutputError, match="is a named pipe"):
        with replacing(path) as tmp:
            tmp.write_text("{}")
    assert stat.S_ISFIFO(os.lstat(path).st_mode) and _leftovers(tmp_path) == []


def test_a_directory_for_a_file_and_special_files_inside_an_output_directory_are_refused(tmp_path):
    with pytest.raises(UsageError, match="is a directory; give a file name"):
        check_writable(tmp_path, "--record")
    os.mkfifo(tmp_path / "metrics.json")
    with pytest.raises(UsageError, match=r"--out .*: metrics.json is a named pipe"):
        check_writable(tmp_path, "--out", directory=True, names=("metrics.json", "loss.png"))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(UsageError, match="is a file, not a directory"):
        check_writable(tmp_path / "afile", "--out", directory=True)


def test_own_links_are_written_through_and_kept(tmp_path):
    target = tmp_path / "runs" / "r1.json"
    target.parent.mkdir()
    target.write_text("old")
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    assert check_writable(link, "--record") == link
    write_json(link, {"a": 1})
    assert link.is_symlink() and json.loads(target.read_text()) == {"a": 1}


@pytest.mark.skipif(not ROOT, reason="making a link another user owns needs root")
def test_another_users_link_is_refused_even_to_root(tmp_path):
    victim = tmp_path / "precious"
    victim.write_text("keep me")
    link = tmp_path / "r.json"
    link.symlink_to(victim)
    os.lchown(link, OTHER_UID, OTHER_UID)  # as if another user planted it in a shared directory
    with pytest.raises(UsageError, match=rf"--record .*r.json: is a symbolic link owned by another user "
                                         rf"\(uid {OTHER_UID}\)"):
        check_writable(link, "--record")
    with pytest.raises(OutputError, match="symbolic link owned by another user"):
        write_json(link, {"a": 1})
    assert link.is_symlink() and victim.read_text() == "keep me"


@pytest.mark.skipif(not ROOT, reason="making a file another user owns needs root")
def test_a_link_to_another_users_file_is_refused(tmp_path):
    theirs = tmp_path / "theirs.json"
    theirs.write_text("theirs")
    os.chown(theirs, OTHER_UID, OTHER_UID)
    link = tmp_path / "r.json"
    link.symlink_to(theirs)
    with pytest.raises(UsageError, match=rf"is a symbolic link to a file owned by another user \(uid {OTHER_UID}\)"):
        check_writable(link, "--record")
    assert theirs.read_text() == "theirs"


# --- a write that fails: one line, exit 1, nothing lost ---------------------------------------

def test_a_full_disk_keeps_the_previous_version_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    path.write_text('{"previous": true}\n')

    def half_then_full(obj, fh, **kwargs):
        fh.write('{"half": ')
        _enospc()

    monkeypatch.setattr(records.json, "dump", half_then_full)
    with pytest.raises(OutputError) as caught:
        write_json(path, {"new": 1})
    message = str(caught.value)
    assert message.startswith(f"could not write {path}: No space left on device (errno 28); its previous version "
                              "is untouched; free some space"), message
    assert "\n" not in message and caught.value.errno == errno.ENOSPC
    assert path.read_text() == '{"previous": true}\n' and _leftovers(tmp_path) == []


def test_an_io_error_at_the_flush_is_caught_before_the_rename(tmp_path, monkeypatch):
    path = tmp_path / "r.json"
    monkeypatch.setattr(records.os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EIO, "Input/output error")))
    with pytest.raises(OutputError, match=r"could not write .*r.json: Input/output error \(errno 5\); nothing was left "
                                          r"there; check the disk"):
        write_json(path, {"a": 1})
    assert not path.exists() and _leftovers(tmp_path) == []


# A wrapper that runs the refsuite command with writes to files named NAME failing as on a full disk.
_FULL_DISK = textwrap.dedent("""
    import errno, io, json, os, sys
    name = sys.argv[1]

    def full(fh):
        if os.path.basename(getattr(fh, "name", "") or "").startswith("." + name):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    dump = json.dump
    def json_dump(obj, fh, **kwargs):
        full(fh)
        return dump(obj, fh, **kwargs)
    json.dump = json_dump

    import PIL.Image
    save = PIL.Image.Image.save
    def image_save(self, fp, *args, **kwargs):
        if os.path.basename(str(fp)).startswith("." + name):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return save(self, fp, *args, **kwargs)
    PIL.Image.Image.save = image_save

    import matplotlib.figure
    savefig = matplotlib.figure.Figure.savefig
    def figure_savefig(self, fname, *args, **kwargs):
        if os.path.basename(str(fname)).startswith("." + name):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return savefig(self, fname, *args, **kwargs)
    matplotlib.figure.Figure.savefig = figure_savefig

    from refsuite.cli import main
    sys.exit(main(sys.argv[2:]))
""")


def _refsuite_on_full_disk(name, *argv, cwd, cache):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(REFSUITE_CACHE=str(cache), REFSUITE_SYNTHETIC_SIZE="600,600")
    return subprocess.run([sys.executable, "-c", _FULL_DISK, name, *argv], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def _one_error_line(done):
    """refsuite's lines on stderr (train's progress bar writes there too), after checking for tracebacks."""
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    return [line for line in done.stderr.splitlines() if line.startswith("refsuite")]


def test_run_record_on_a_full_disk_keeps_the_summary_and_the_previous_record(tmp_path):
    record = tmp_path / "r.json"
    record.write_text('{"previous": true}\n')
    done = _refsuite_on_full_disk("r.json", "run", "-k", "tensors.seed.repeats", "--record", str(record),
                                  cwd=tmp_path, cache=tmp_path / "cache")
    lines = _one_error_line(done)
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines == [f"refsuite: could not write {record}: No space left on device (errno 28); its previous version "
                     "is untouched; free some space or give a path on another disk"], done.stderr
    assert "refsuite: units by section" in done.stdout and "1 passed" in done.stdout
    assert record.read_text() == '{"previous": true}\n' and _leftovers(tmp_path) == []


@pytest.mark.slow
def test_train_on_a_full_disk_for_the_picture_still_evaluates_and_keeps_the_metrics(tmp_path):
    out = tmp_path / "out"
    done = _refsuite_on_full_disk("loss.png", "train", "--epochs", "1", "--out", str(out), cwd=tmp_path,
                                  cache=tmp_path / "cache")
    lines = _one_error_line(done)
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(lines) == 1 and lines[0].startswith(f"refsuite train: could not write {out / 'loss.png'}: No space "
                                                   "left on device (errno 28)"), done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stage"] == "evaluated" and metrics["accuracy"] > 0.1
    assert f"wrote {out / 'metrics.json'}\n" in done.stdout
    assert not (out / "loss.png").exists() and _leftovers(out) == []


@pytest.mark.slow
def test_train_on_a_full_disk_for_the_metrics_keeps_their_previous_version_and_the_picture(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"stage": "an earlier run"}\n')
    done = _refsuite_on_full_disk("metrics.json", "train", "--epochs", "1", "--out", str(out), cwd=tmp_path,
                                  cache=tmp_path / "cache")
    lines = _one_error_line(done)
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(lines) == 1 and lines[0].startswith(f"refsuite train: could not write {out / 'metrics.json'}: "
                                                   "No space left on device (errno 28); its previous version is "
                                                   "untouched"), done.stderr
    assert "Accuracy of the network" in done.stdout  # evaluation ran
    assert (out / "metrics.json").read_text() == '{"stage": "an earlier run"}\n'
    assert (out / "loss.png").stat().st_size > 0 and _leftovers(out) == []


def test_show_batch_on_a_full_disk_is_one_line_and_keeps_the_previous_picture(tmp_path):
    out = tmp_path / "g.png"
    out.write_bytes(b"previous picture")
    done = _refsuite_on_full_disk("g.png", "show-batch", "--out", str(out), cwd=tmp_path, cache=tmp_path / "cache")
    lines = _one_error_line(done)
    assert done.returncode == 1, done.stdout + done.stderr
    assert lines == [f"refsuite show-batch: could not write {out}: No space left on device (errno 28); its previous "
                     "version is untouched; free some space or give a path on another disk"], done.stderr
    assert out.read_bytes() == b"previous picture" and _leftovers(tmp_path) == []
