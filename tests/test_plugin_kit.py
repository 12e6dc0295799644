"""The plugin author's kit: the templates use only the public API, the minimal plugin in
PLUGINS.md works as pasted, and refsuite.testing does what it says."""
from __future__ import annotations

import ast
import contextlib
import re
import sys
import tempfile
from pathlib import Path

import pytest
import torch

import refsuite
from refsuite.testing import check_dataset, only_called_from
from test_plugins import Env, env  # noqa: F401  (a venv that sees this one's packages)

ROOT = Path(__file__).resolve().parents[1]
#: the public modules PLUGINS.md names; ``refsuite`` itself only through ``refsuite.__all__``
PUBLIC_MODULES = {"refsuite.testing", "refsuite.core.strategies", "refsuite.bench.variants", "refsuite.tutorial"}
PUBLIC_PACKAGES = ("refsuite.tutorial.",)


def _private_uses(path: Path) -> list[str]:
    """Every import of refsuite in ``path`` that reaches past the public API."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            pairs = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            pairs = [(node.module, alias.name) for alias in node.names]
        else:
            continue
        for module, name in pairs:
            if module != "refsuite" and not module.startswith("refsuite."):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}: {module}" + (f" import {name}" if name else "")
            parts = module.split(".") + ([name] if name else [])
            if any(part.startswith("_") for part in parts):
                found.append(where + " (private name)")
            elif module == "refsuite":
                if name is not None and name not in refsuite.__all__:
                    found.append(where + " (not in refsuite.__all__)")
            elif module not in PUBLIC_MODULES and not module.startswith(PUBLIC_PACKAGES):
                if f"{module}.{name}" not in PUBLIC_MODULES:
                    found.append(where + " (not a public module)")
    return found


def test_templates_import_only_the_public_api():
    # build/ holds setuptools' copies of old sources: not what the template ships
    files = sorted(f for f in ROOT.glob("plugins/*/**/*.py") if "build" not in f.relative_to(ROOT).parts)
    assert len({f.relative_to(ROOT).parts[1] for f in files}) == 6, files
    found = [use for f in files for use in _private_uses(f)]
    assert not found, "templates reaching past the public API:\n" + "\n".join(found)


def test_the_import_check_catches_private_imports(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    bad = tmp_path / "bad.py"
    bad.write_text("import refsuite._version\nfrom refsuite.core.devices import CPU\nfrom refsuite import _EXPORTS\n"
                   "from refsuite import nothing_public\nfrom refsuite.core import strategies\nfrom refsuite.tutorial.nets import Net\n")
    assert [u.split(": ", 1)[1] for u in _private_uses(bad)] == [
        "refsuite._version (private name)",
        "refsuite.core.devices import CPU (not a public module)",
        "refsuite import _EXPORTS (private name)",
        "refsuite import nothing_public (not in refsuite.__all__)",
    ]


def _pasted_plugin(into: Path) -> Path:
    """The minimal plugin, written from PLUGINS.md's text exactly as a reader would paste it."""
    files = re.findall(r"<!-- paste: (\S+) -->\n```\w+\n(.*?)```", (ROOT / "PLUGINS.md").read_text(), flags=re.S)
    assert {Path(p).name for p, _ in files} >= {"pyproject.toml", "__init__.py", "units.py", "stripes.py"}, files
    for path, text in files:
        (into / path).parent.mkdir(parents=True, exist_ok=True)
        (into / path).write_text(text)
    return into / Path(files[0][0]).parts[0]


@pytest.mark.slow
def test_the_minimal_plugin_in_plugins_md_installs_and_passes(env):  # noqa: F811
    # Outside the repository (tmp_path may sit inside it when pytest's basetemp does).
    with tempfile.TemporaryDirectory(prefix="refsuite-paste-") as tmp:
        outside = Path(tmp)
        assert ROOT not in outside.resolve().parents
        project = _pasted_plugin(outside)
        env.install(project)
        try:
            # from outside the project, so the tests import the installed package
            where = env.run("-c", "import refsuite_example.units as u; print(u.__file__)", cwd=outside, check=True)
            assert "site-packages" in where.stdout, where.stdout
            tests = env.run("-m", "pytest", "-q", "-p", "no:cacheprovider", str(project / "tests"), cwd=outside)
            assert tests.returncode == 0 and "4 passed" in tests.stdout, tests.stdout[-3000:] + tests.stderr[-2000:]
            run = env.refsuite("run", "-k", "example", "--record", str(outside / "r.json"), cwd=outside)
            assert run.returncode == 0 and "2 passed" in run.stdout, run.stdout[-3000:] + run.stderr[-2000:]
            stripes = env.refsuite("run", "--dataset", "stripes", "-k", "example or loader or training.loop", cwd=outside)
            assert stripes.returncode == 0, stripes.stdout[-3000:] + stripes.stderr[-2000:]
            assert "dataset stripes lacks ten_classes" in stripes.stdout, stripes.stdout[-3000:]
        finally:
            env.pip("uninstall", "-y", "-q", "refsuite-example")


def test_the_kits_fixtures_are_opt_in_and_listed_with_their_docstrings(env, tmp_path):  # noqa: F811
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    plain = env.run("-m", "pytest", "--fixtures", "-p", "no:cacheprovider", str(tmp_path), cwd=tmp_path)
    assert plain.returncode == 0, plain.stdout[-3000:]
    assert not re.search(r"^(unit|plugins)( \[session scope\])? --", plain.stdout, re.M), \
        "refsuite registered fixtures nobody asked for"
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["refsuite.testing"]\n')
    listed = env.run("-m", "pytest", "--fixtures", "-p", "no:cacheprovider", str(tmp_path), cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout[-3000:]
    # the pattern the first run was checked against does find them once asked for
    assert len(re.findall(r"^(unit|plugins)( \[session scope\])? --", listed.stdout, re.M)) == 2, listed.stdout[-4000:]
    out = re.sub(r"\s+", " ", listed.stdout)
    assert "unit -- " in out and "refsuite's unit runner" in out, listed.stdout[-4000:]
    assert "plugins [session scope] -- " in out and "Everything refsuite found installed" in out


def test_plugins_md_lists_every_dataset_capability():
    text = (ROOT / "PLUGINS.md").read_text()
    for name, meaning in refsuite.DATASET_CAPABILITIES.items():
        assert f"| `{name}` | {meaning} |" in text, name


def test_plugins_md_documents_the_whole_kit():
    import refsuite.testing as kit

    text = (ROOT / "PLUGINS.md").read_text()
    methods = [m for m in vars(kit.UnitRunner) if not m.startswith("_")] + ["ctx"]
    missing = [f"unit.{m}" for m in methods if f"unit.{m}" not in text]
    missing += [name for name in kit.__all__ if name != "UnitRunner" and f"`{name}" not in text]
    assert not missing, f"PLUGINS.md does not mention {missing}"


# refsuite.testing itself


def test_fails_returns_the_text_and_checks_match(unit, monkeypatch):
    _zeros = torch.zeros
    monkeypatch.setattr(torch, "zeros", lambda *a, **k: _zeros(*a, **k) + 1)
    text = unit.fails("tensors.creation.zeros_default_float32", match="differs|zero")
    assert text
    with pytest.raises(pytest.fail.Exception, match="does not match 'no such words'"):
        unit.fails("tensors.creation.zeros_default_float32", match="no such words")


def test_fails_when_nothing_was_broken(unit):
    with pytest.raises(pytest.fail.Exception, match="passed although its fault was planted"):
        unit.fails("tensors.creation.zeros_default_float32")


def test_run_all_refuses_a_pattern_that_matches_nothing(unit):
    with pytest.raises(pytest.fail.Exception, match="no unit matches 'tensor.*'"):
        unit.run_all("tensor.*")
    assert "tensors.creation.zeros_default_float32" in unit.run_all("tensors.creation.*")


def test_on_a_missing_device_skips_naming_the_available_ones(unit, plugins):
    absent = [name for name, kind in plugins.devices.items() if not kind.is_available()]
    if not absent:
        pytest.skip("every known device type is available here")
    with pytest.raises(pytest.skip.Exception, match="available: cpu"):
        unit.on(absent[0])
    with pytest.raises(refsuite.UsageError, match="unknown device 'nonsense'"):
        unit.on("nonsense")


def test_on_runs_the_unit_on_that_device(unit, plugins):
    chosen = unit.on("cpu")
    assert chosen is unit and unit.ctx.device.label == "cpu" and unit.ctx.torch_device.type == "cpu"


def test_only_called_from_plants_the_fault_for_that_package_only():
    planted = only_called_from(__name__, lambda: "fault", lambda: "real")
    assert planted() == "fault"
    assert only_called_from("some_other_package", lambda: "fault", lambda: "real")() == "real"
    with only_called_from(__name__, contextlib.nullcontext, torch.no_grad)():
        assert torch.ones(1, requires_grad=True).mul(2).requires_grad  # the fault: grad still tracked


def test_check_dataset_passes_the_default_and_names_what_is_wrong(plugins, monkeypatch):
    synthetic = plugins.datasets["synthetic-cifar10"]
    assert check_dataset(synthetic).channels == 3
    monkeypatch.setattr(type(synthetic), "capabilities", frozenset({"colour", "ten_classes"}))
    loaded = synthetic.load(None, False)
    monkeypatch.setattr(loaded, "channels", 1)
    problems = loaded.contract_problems(frozenset({"colour"}))
    assert "declares colour but has 1 channel(s)" in problems and "mean has 3 values for 1 channel(s)" in problems


def test_public_api_names_resolve():
    for name in refsuite.__all__:
        assert getattr(refsuite, name) is not None
