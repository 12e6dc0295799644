"""Installed refsuite is harmless: a pytest session that asks nothing of it runs as it would without
it (hypothesis's settings, fixtures, files left behind), and a green `refsuite run` writes nothing
to stderr, whatever torch release it runs on."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import hypothesis._settings

import refsuite

FOREIGN_TEST = '''
    from hypothesis import given, settings, strategies as st

    def test_hypothesis_keeps_its_own_defaults():
        assert settings.default.max_examples == 100, settings.default
        assert settings.default.derandomize is False, settings.default
        assert settings.default.database is not None, settings.default

    @settings(database=None)
    @given(st.integers())
    def test_a_property(n):
        assert n == n
'''


#: where any of these is set, hypothesis loads its built-in "ci" profile (derandomized, no database);
#: tox keeps an outer CI as __TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI
_CI_VARIABLES = {*getattr(hypothesis._settings, "_CI_VARS", {}), "CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI",
                 "__TOX_ENVIRONMENT_VARIABLE_ORIGINAL_CI"}


def _clean_env() -> dict:
    # not this run's PYTEST_* variables, nor a CI's: the foreign project's tests expect hypothesis's defaults
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_") and k not in _CI_VARIABLES}


def _pytest(*args: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pytest", "-n", "0", *args], cwd=cwd, env=_clean_env(),
                          capture_output=True, text=True, timeout=300)


def test_a_foreign_projects_hypothesis_tests_keep_their_settings(tmp_path):
    (tmp_path / "test_foreign.py").write_text(textwrap.dedent(FOREIGN_TEST))
    done = _pytest("-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout, done.stdout[-3000:]


def test_a_foreign_projects_own_ci_profile_is_not_replaced(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "from hypothesis import settings\nsettings.register_profile('ci', max_examples=7)\n")
    (tmp_path / "test_profile.py").write_text(
        "from hypothesis import settings\n\ndef test_ours():\n    assert settings.default.max_examples == 7\n")
    done = _pytest("-q", "-p", "no:cacheprovider", "--hypothesis-profile", "ci", cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def _tree(root) -> set:
    found = {str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts}
    if "site-packages" not in Path(refsuite.__file__).parts:
        # an editable install: hypothesis caches constants from the source files of every module it
        # counts as the project's own (not under site-packages), refsuite's included
        found = {p for p in found if not p.startswith(".hypothesis")}
    return found


def test_pytest_leaves_nothing_it_would_not_leave_without_refsuite(tmp_path):
    with_it, without = tmp_path / "with", tmp_path / "without"
    for where, args in ((with_it, []), (without, ["-p", "no:refsuite"])):
        where.mkdir()
        (where / "test_foreign.py").write_text(textwrap.dedent(FOREIGN_TEST))
        done = _pytest("-q", *args, cwd=where)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert _tree(with_it) == _tree(without)


def test_pytest_in_an_empty_directory_leaves_what_it_would_leave_without_refsuite(tmp_path):
    trees = []
    for name, args in (("with", []), ("without", ["-p", "no:refsuite"])):
        empty = tmp_path / name
        empty.mkdir()
        done = _pytest("-q", *args, cwd=empty)
        assert done.returncode == 5, done.stdout[-3000:]  # no tests: pytest's own verdict
        trees.append(_tree(empty))
    assert trees[0] == trees[1]


def test_a_green_run_writes_nothing_to_stderr(tmp_path):
    # a data unit imports torchvision, which brings torch._dynamo and, on torch >= 2.15, Triton's
    # nanobind extension: a frozen heap at exit made it print its "leaked" report
    env = {**_clean_env(), "REFSUITE_CACHE": str(tmp_path / "cache")}
    done = subprocess.run([sys.executable, "-m", "refsuite", "run", "-k", "data.to_tensor or tensors.seed.golden"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "2 passed" in done.stdout, done.stdout[-3000:]
    assert done.stderr == "", done.stderr[-3000:]
