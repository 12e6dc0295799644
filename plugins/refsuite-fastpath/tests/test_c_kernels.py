"""The fused C kernels: their unit, the faults it catches, the contract every call is checked
against, and a cache that heals itself."""
import os
import subprocess
import sys
from importlib.resources import files

import pytest
import torch

from refsuite.tutorial.training import new_net
from refsuite_fastpath import c_kernels

UNIT = "fastpath.c_kernels.equal_tutorial_path"


@pytest.fixture
def built():
    reason = c_kernels.unavailable()
    if reason:
        pytest.skip(reason)


@pytest.mark.usefixtures("built")
def test_unit_passes_unbroken(unit):
    unit.run(UNIT)


@pytest.mark.usefixtures("built")
def test_weight_gradient_slightly_off(unit, monkeypatch):
    weight_grad = c_kernels.weight_grad
    monkeypatch.setattr(c_kernels, "weight_grad", lambda *a: (lambda dw, db: (dw * 1.01, db))(*weight_grad(*a)))
    assert "gradient of conv" in unit.fails("fastpath.c_kernels.equal_tutorial_path")


@pytest.mark.usefixtures("built")
def test_input_gradient_slightly_off(unit, monkeypatch):
    input_grad = c_kernels.input_grad
    monkeypatch.setattr(c_kernels, "input_grad", lambda *a: input_grad(*a) * 1.01)
    assert "gradient of" in unit.fails("fastpath.c_kernels.equal_tutorial_path")


@pytest.mark.usefixtures("built")
def test_winner_ignored(unit, monkeypatch):
    forward = c_kernels.forward
    monkeypatch.setattr(c_kernels, "forward", lambda *a: (lambda y, w: (y, torch.zeros_like(w)))(*forward(*a)))
    unit.fails("fastpath.c_kernels.equal_tutorial_path")


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("layer", ["conv1", "conv2"])  # conv1 on the direct kernel, conv2 after oneDNN
def test_ties_broken_like_max_pool2d(layer):
    conv = getattr(new_net(0), layer)
    side = 32 if layer == "conv1" else 14
    x = torch.full((2, conv.in_channels, side, side), 0.5)
    with torch.no_grad():
        y, which = c_kernels.forward(x, conv.weight.contiguous(), conv.bias.contiguous())
        pooled, indices = torch.nn.functional.max_pool2d(conv(x), 2, return_indices=True)
    width = conv(x).shape[-1]
    assert which.dtype == torch.int8
    assert torch.equal(which.long(), (indices // width % 2) * 2 + indices % 2)
    torch.testing.assert_close(y, pooled.clamp(min=0), rtol=1e-5, atol=1e-6)


def _call(x, weight, bias):
    """A valid call, as each test below then breaks one argument of."""
    y, which = c_kernels.forward(x, weight, bias)
    return {"x": x, "weight": weight, "bias": bias, "gy": torch.ones_like(y), "y": y, "which": which}


@pytest.fixture
def args(built):
    net = new_net(0)
    with torch.no_grad():
        return _call(torch.randn(2, 3, 32, 32), net.conv1.weight.detach().clone(), net.conv1.bias.detach().clone())


def _forward(a):
    return c_kernels.forward(a["x"], a["weight"], a["bias"])


def _weight_grad(a):
    return c_kernels.weight_grad(a["x"], a["gy"], a["y"], a["which"])


def _input_grad(a):
    return c_kernels.input_grad(a["x"].shape, a["weight"], a["gy"], a["y"], a["which"])


CALLS = {"forward": _forward, "weight_grad": _weight_grad, "input_grad": _input_grad}
BREAKS = {
    # what is broken: (argument, how, the message)
    "float64 input": ("x", lambda t: t.double(), "must be torch.float32"),
    "3-D input": ("x", lambda t: t[0], "4-D"),
    "non-contiguous input": ("x", lambda t: t.transpose(2, 3), "contiguous"),
    "wrong weight shape": ("weight", lambda t: t[:, :, :3, :3].contiguous(), "must have shape"),
    "int8 gradient": ("gy", lambda t: t.to(torch.int8), "must be torch.float32"),
    "winners as int32": ("which", lambda t: t.int(), "must be torch.int8"),
    "gradient of the wrong shape": ("gy", lambda t: t[:, :, :-1].contiguous(), "must have shape"),
}
USES = {"forward": {"x", "weight", "bias"}, "weight_grad": {"x", "gy", "y", "which"},
        "input_grad": {"x", "weight", "gy", "y", "which"}}
SHAPE_ONLY = {"input_grad"}  # takes the input's shape, not the input


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("broken", BREAKS)
def test_a_malformed_call_is_a_value_error(args, call, broken):
    name, how, message = BREAKS[broken]
    if name not in USES[call] or (call in SHAPE_ONLY and name == "x" and broken != "3-D input"):
        pytest.skip(f"{call} takes no {name}")
    args[name] = how(args[name])
    with pytest.raises(ValueError, match=message):
        CALLS[call](args)


@pytest.mark.parametrize("call", CALLS)
def test_more_channels_than_the_stack_region_holds_is_a_value_error(built, call):
    channels = c_kernels.MAX_CHANNELS + 1
    conv = torch.nn.Conv2d(channels, 4, 5)
    with torch.no_grad():
        weight, bias = conv.weight.detach().contiguous(), conv.bias.detach().contiguous()
        x = torch.randn(1, channels, 14, 14)
        pooled = (1, 4, 5, 5)
        a = {"x": x, "weight": weight, "bias": bias, "gy": torch.ones(pooled), "y": torch.ones(pooled),
             "which": torch.zeros(pooled, dtype=torch.int8)}
        with pytest.raises(ValueError, match=f"1 to {c_kernels.MAX_CHANNELS} input channels, got {channels}"):
            CALLS[call](a)


def test_without_a_compiler_the_unit_is_a_visible_skip(unit, monkeypatch, tmp_path):
    monkeypatch.setenv("REFSUITE_CACHE", str(tmp_path))  # nothing built yet
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    c_kernels._library.cache_clear()
    try:
        assert "C kernels unavailable" in unit.unmet(UNIT)
    finally:
        c_kernels._library.cache_clear()
    assert not list(tmp_path.glob("kernels/*.so")), "a failed build must leave no library behind"


def _in_a_fresh_process(cache):
    """Build (or load) the library and run the forward kernel once, in a new process."""
    code = ("import torch; from refsuite_fastpath import c_kernels; "
            "c_kernels.forward(torch.randn(1, 3, 32, 32), torch.randn(6, 3, 5, 5), torch.randn(6)); "
            "print(c_kernels.library_path())")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "REFSUITE_CACHE": str(cache)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout.strip()


@pytest.mark.usefixtures("built")
@pytest.mark.parametrize("damage", ["truncated", "other bytes"])
def test_a_damaged_cached_library_is_rebuilt_not_loaded(tmp_path, damage):
    library = _in_a_fresh_process(tmp_path)
    from pathlib import Path

    library = Path(library)
    size = library.stat().st_size
    if damage == "truncated":  # a build cut short; loading this used to end the process with SIGBUS
        with open(library, "r+b") as fh:
            fh.truncate(size // 3)
    else:
        library.write_bytes(library.read_bytes()[:-1] + b"\x00")
    assert _in_a_fresh_process(tmp_path) == str(library)
    assert library.stat().st_size == size


@pytest.mark.usefixtures("built")
def test_a_cache_others_may_write_is_refused(tmp_path, monkeypatch):
    kernels = tmp_path / "kernels"
    kernels.mkdir()
    kernels.chmod(0o777)
    monkeypatch.setenv("REFSUITE_CACHE", str(tmp_path))
    c_kernels._library.cache_clear()
    try:
        reason = c_kernels.unavailable()
    finally:
        c_kernels._library.cache_clear()
    assert "group or others may write it" in reason
    assert not list(kernels.glob("*.so"))


def test_c_source_ships_with_the_package():
    # tests run against the installed plugin: this fails there if package-data drops the C file
    assert (files("refsuite_fastpath") / "csrc" / "fused_hotpath.c").is_file()


PLANTED = r"""
#include <stdio.h>
__attribute__((constructor)) static void planted(void) { FILE *f = fopen("MARKER", "w"); if (f) fclose(f); }
"""


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="a cache owned by another user needs root to set up")
def test_a_library_planted_in_a_cache_owned_by_another_user_is_never_loaded(tmp_path):
    import hashlib
    import json
    import shutil

    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build the planted library")
    marker = tmp_path / "planted-code-ran"
    source = tmp_path / "planted.c"
    source.write_text(PLANTED.replace("MARKER", str(marker)))
    env = {**os.environ, "REFSUITE_CACHE": str(tmp_path / "cache")}
    where = subprocess.run([sys.executable, "-c", "from refsuite_fastpath import c_kernels; print(c_kernels.library_path())"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    from pathlib import Path

    library = Path(where)
    library.parent.mkdir(parents=True)
    subprocess.run([compiler, "-shared", "-fPIC", str(source), "-o", str(library)], check=True)
    # the other user also writes the build record, digest and all
    Path(str(library) + ".json").write_text(json.dumps({"sha256": hashlib.sha256(library.read_bytes()).hexdigest()}))
    for path in (library.parent, library, Path(str(library) + ".json")):
        os.chown(path, 65534, 65534)
    library.parent.chmod(0o755)
    done = subprocess.run([sys.executable, "-c", "from refsuite_fastpath import c_kernels; print(c_kernels.unavailable())"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "owned by uid 65534" in done.stdout, done.stdout
    assert not marker.exists(), "the planted library was loaded"
