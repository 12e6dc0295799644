"""The plugins in plugins/, installed with pip into a real environment, as an outside author's users would.

The environment is a fresh venv that sees this one's packages (torch, refsuite) through a
.pth file, so pip installs and uninstalls the plugins into it without touching the
environment running these tests.
"""
from __future__ import annotations

import json
import os
import subprocess
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PLUGINS = ROOT / "plugins"


class Env:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.python = path / "bin" / "python"

    def run(self, *args, cwd=None, check=False, timeout=600) -> subprocess.CompletedProcess:
        # not this run's PYTEST_* either: pytest-benchmark stops timing inside what looks like an xdist worker
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("PYTEST_")}
        res = subprocess.run([str(self.python), *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)
        if check:
            assert res.returncode == 0, f"{args}: {res.stdout}\n{res.stderr}"
        return res

    def pip(self, *args):
        return self.run("-m", "pip", "--disable-pip-version-check", *args, check=True)

    def install(self, project: Path):
        # --no-deps: refsuite, torch and the rest come from the parent environment
        return self.pip("install", "--no-deps", "--no-build-isolation", "-q", str(project))

    def refsuite(self, *args, cwd=None):
        return self.run("-m", "refsuite", *args, cwd=cwd)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    path = tmp_path_factory.mktemp("plugin-env") / "venv"
    venv.EnvBuilder(with_pip=False).create(path)
    site = Path(subprocess.run([str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    parent = sysconfig.get_paths()["purelib"]
    # addsitedir (not a bare path) so the parent's own .pth files, editable installs among them, apply too
    (site / "parent-env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return Env(path)


@pytest.mark.slow
def test_unit_plugin_appears_runs_and_uninstalls(env, tmp_path):
    env.install(PLUGINS / "refsuite-autograd")
    listed = env.refsuite("list", "autograd.*")
    assert listed.returncode == 0 and "5 of" in listed.stdout, listed.stdout + listed.stderr
    doctor = env.refsuite("doctor")
    assert "refsuite.units:autograd (refsuite-autograd 0.1.0)" in doctor.stdout
    run = env.refsuite("run", "-k", "autograd", cwd=tmp_path)
    assert run.returncode == 0 and "5 passed" in run.stdout, run.stdout
    assert "autograd" in run.stdout.split("units by section")[1]
    pytest_run = env.run("-m", "pytest", "--device=cpu", "--units", "-k", "autograd", "-p", "no:cacheprovider", str(tmp_path), cwd=tmp_path)
    assert pytest_run.returncode == 0 and "5 passed" in pytest_run.stdout, pytest_run.stdout
    faults = env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGINS / "refsuite-autograd" / "tests"), cwd=ROOT)
    assert faults.returncode == 0, faults.stdout + faults.stderr
    env.pip("uninstall", "-y", "-q", "refsuite-autograd")
    gone = env.refsuite("list", "autograd.*")
    assert gone.returncode == 5 and "no units match" in gone.stderr


def _recorded_run(env: Env, tmp_path: Path, *args: str) -> dict:
    """`refsuite run ARGS --record`, which must pass; the results keyed by unit id."""
    record = tmp_path / "record.json"
    run = env.refsuite("run", *args, "--record", str(record), cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    return {r["unit"]: r for r in json.loads(record.read_text())["results"]}


@pytest.mark.slow
def test_device_plugin_runs_shape_units_and_skips_value_units(env, tmp_path):
    env.install(PLUGINS / "refsuite-meta")
    doctor = env.refsuite("doctor")
    assert "meta   available" in doctor.stdout and "refsuite.devices:meta (refsuite-meta 0.1.0)" in doctor.stdout
    results = _recorded_run(env, tmp_path, "--device", "meta")
    assert results["models.conv.output_shape_follows_formula"]["outcome"] == "passed"
    assert results["tensors.arithmetic.mismatched_shapes_raise"]["outcome"] == "passed"
    skipped = results["tensors.seed.golden"]
    assert skipped["outcome"] == "skipped" and skipped["reason"] == "device meta lacks values"
    strict = env.refsuite("run", "--device", "meta", "--strict", "-k", "seed", cwd=tmp_path)
    assert strict.returncode == 1
    env.pip("uninstall", "-y", "-q", "refsuite-meta")


@pytest.mark.slow
def test_backend_plugin_without_its_backend_says_why(env, tmp_path):
    import importlib.util

    if importlib.util.find_spec("torch_xla") is not None:
        pytest.skip("torch_xla is installed here: tox -e xla runs refsuite-xla with it")
    env.install(PLUGINS / "refsuite-xla")
    doctor = env.refsuite("doctor")
    assert "xla    not available" in doctor.stdout and "why: torch_xla is not installed" in doctor.stdout, doctor.stdout
    run = env.refsuite("run", "--device", "xla", cwd=tmp_path)
    assert run.returncode == 4 and "torch_xla is not installed" in run.stderr + run.stdout
    env.pip("uninstall", "-y", "-q", "refsuite-xla")


@pytest.mark.slow
def test_dataset_plugin_trains_lenet_on_real_digits(env, tmp_path):
    env.install(PLUGINS / "refsuite-digits")
    doctor = env.refsuite("doctor")
    assert "digits" in doctor.stdout and "refsuite.datasets:digits (refsuite-digits 0.1.0)" in doctor.stdout
    results = _recorded_run(env, tmp_path, "--dataset", "digits")
    digits = results["training.digits.lenet_reaches_90_percent"]
    assert digits["outcome"] == "passed" and digits["metrics"]["digits_test_accuracy"] >= 0.9
    assert results["training.loop.running_loss_falls_and_repeats"]["outcome"] == "passed"  # trains LeNet here
    assert results["data.stats.streaming_mean_std_match_documented"]["outcome"] == "passed"
    assert results["data.classes.are_the_tutorials_ten"]["outcome"] == "skipped"
    faults = env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGINS / "refsuite-digits" / "tests"), cwd=ROOT)
    assert faults.returncode == 0, faults.stdout + faults.stderr
    env.pip("uninstall", "-y", "-q", "refsuite-digits")


@pytest.mark.slow
def test_fastpath_plugin_adds_its_units_and_bench_variants(env, tmp_path):
    env.install(PLUGINS / "refsuite-fastpath")
    listed = env.refsuite("list", "fastpath.*")
    assert listed.returncode == 0 and "2 of" in listed.stdout, listed.stdout + listed.stderr
    assert "(was models.hotpath.fused_cpu_equals_tutorial_path)" in listed.stdout
    results = _recorded_run(env, tmp_path, "-k", "fastpath")
    assert results["fastpath.c_kernels.equal_tutorial_path"]["outcome"] == "passed"
    assert results["fastpath.triton_kernels.equal_tutorial_path"]["outcome"] == "skipped"
    bench = env.refsuite("bench", "--quick", "--", "-k", "both and fwdbwd and (eager_nchw or fused)", cwd=tmp_path)
    assert bench.returncode == 0, bench.stdout[-3000:] + bench.stderr[-2000:]
    assert any(line.startswith("cpu") and " fused " in line for line in bench.stdout.splitlines()), bench.stdout[-2000:]
    faults = env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(PLUGINS / "refsuite-fastpath" / "tests"), cwd=ROOT)
    assert faults.returncode == 0, faults.stdout[-3000:] + faults.stderr[-2000:]
    env.pip("uninstall", "-y", "-q", "refsuite-fastpath")


def _project(tmp_path: Path, name: str, module: str, source: str, entry: str,
             group: str = "refsuite.units", target: str = "units") -> Path:
    """A one-module distribution whose entry point ``entry`` in ``group`` names ``module:target``."""
    project = tmp_path / name
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text(textwrap.dedent(source))
    (project / "pyproject.toml").write_text(textwrap.dedent(f"""
        [build-system]
        requires = ["setuptools>=69"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "{name}"
        version = "1.0"
        [project.entry-points."{group}"]
        {entry} = "{module}:{target}"
    """))
    return project


@pytest.mark.slow
def test_broken_and_duplicate_plugins_are_named_and_hide_nothing(env, tmp_path):
    env.install(_project(tmp_path, "refsuite-broken", "refsuite_broken", "raise ImportError('broken on purpose')", "broken"))
    env.install(_project(tmp_path, "refsuite-dup", "refsuite_dup", '''
        from refsuite import UnitGroup
        units = UnitGroup()
        @units.unit("tensors.seed.repeats")
        def impostor(ctx):
            """Claims a built-in id."""
    ''', "dup"))
    try:
        run = env.refsuite("run", "-v", cwd=tmp_path)
        assert run.returncode == 1
        assert "refsuite-plugin[refsuite.units:broken] FAILED" in run.stdout and "broken on purpose" in run.stdout
        assert "duplicate unit id 'tensors.seed.repeats': registered by refsuite.units:tensors (refsuite 0.1.0) and again by refsuite.units:dup (refsuite-dup 1.0)" in run.stdout
        assert "tensors.seed.repeats[cpu] PASSED" in run.stdout and "models.conv.conv2d_matches_numpy[cpu] PASSED" in run.stdout
        # -k selecting none of the broken providers' items does not make the run green
        selected = env.refsuite("run", "-k", "tensors.math", cwd=tmp_path)
        assert selected.returncode == 1, selected.stdout[-3000:]
        assert "refsuite: FAILED refsuite.units:broken (refsuite-broken 1.0): ImportError: broken on purpose" in selected.stdout
        assert "duplicate unit id 'tensors.seed.repeats'" in selected.stdout
        by_pytest = env.run("-m", "pytest", "--units", "-k", "tensors.math", "-p", "no:cacheprovider", str(tmp_path), cwd=tmp_path)
        assert by_pytest.returncode == 1 and "refsuite: FAILED refsuite.units:broken" in by_pytest.stdout, by_pytest.stdout[-3000:]
        nothing = env.refsuite("run", "-k", "no_unit_has_this_name", cwd=tmp_path)
        assert nothing.returncode == 1, nothing.stdout[-3000:]
    finally:
        env.pip("uninstall", "-y", "-q", "refsuite-broken", "refsuite-dup")


def test_plugins_md_snippets_are_the_ones_the_plugins_use():
    import re

    text = (ROOT / "PLUGINS.md").read_text()
    snippets = re.findall(r"<!-- file: (\S+) -->\n```\w+\n(.*?)```", text, flags=re.S)
    assert len(snippets) == 8
    for path, snippet in snippets:
        assert snippet in (ROOT / path).read_text(), f"PLUGINS.md's snippet for {path} is not in that file"
