"""The layout's rules, as tests: the framework never imports what builds on it (import-linter, with
the contracts in pyproject.toml), functions and modules stay small (ruff and pylint, with the limits
in pyproject.toml), and the public API is one ``__all__``."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import refsuite

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(package_parent: Path) -> subprocess.CompletedProcess:
    """lint-imports with this repository's contracts over the refsuite package found in ``package_parent``."""
    env = {"PYTHONPATH": str(package_parent), "PATH": "/usr/bin:/bin"}
    return subprocess.run([str(LINT), "--config", str(ROOT / "pyproject.toml"), "--no-cache"], cwd=package_parent,
                          env=env, capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 kept, 0 broken" in done.stdout, done.stdout


@pytest.mark.parametrize(("module", "planted"), [
    ("core/tolerance.py", "from ..tutorial import golden"),
    ("core/registry.py", "import refsuite.tutorial.nets"),
    ("units/models.py", "from ..cli import main"),
    ("cli/run.py", "from ..pytest_plugin import collection"),
    ("settings.py", "import pytest"),
])
def test_a_planted_upward_import_breaks_a_contract(tmp_path, module, planted):
    shutil.copytree(ROOT / "refsuite", tmp_path / "refsuite", ignore=shutil.ignore_patterns("__pycache__"))
    path = tmp_path / "refsuite" / module
    path.write_text(path.read_text() + f"\n{planted}  # planted\n")
    done = _lint(tmp_path)
    assert done.returncode != 0 and "BROKEN" in done.stdout, done.stdout + done.stderr


@pytest.mark.parametrize("linter", [
    ["ruff", "check", "--no-cache", "--output-format", "concise", "refsuite"],  # statements, branches, complexity
    ["pylint", "refsuite"],  # module length
], ids=["ruff", "pylint"])
def test_functions_and_modules_stay_within_the_size_limits(linter):
    done = subprocess.run([sys.executable, "-m", *linter], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(linter)} (limits in pyproject.toml):\n{done.stdout}{done.stderr}"


def test_the_public_api_is_one_all_and_every_name_resolves():
    assert len(refsuite.__all__) == len(set(refsuite.__all__))
    for name in refsuite.__all__:
        assert getattr(refsuite, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nets'"):
        refsuite.nets  # noqa: B018  (the old flat modules are gone, not half-exported)


def test_refsuite_version_is_the_distributions():
    from importlib.metadata import version

    assert refsuite.__version__ == version("refsuite")
