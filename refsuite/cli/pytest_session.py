"""Running pytest from a directory of its own, for the commands that drive it (run, bench)."""
from __future__ import annotations

import gc
import os
import tempfile
from pathlib import Path


def run_isolated(argv: list[str], target: str | None = None, plugins: list | None = None) -> int:
    """Run pytest from an empty directory of its own, so only ``target`` (or the units) is collected.

    Paths in ``argv`` must be absolute: the run changes directory. pytest's exit code is returned,
    except that an interrupt is 128 + the signal's number as in every refsuite command (pytest says 2).
    """
    import pytest

    from ..core import interrupts
    from .exit_codes import PYTEST_INTERRUPTED

    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="refsuite-run-") as tmp:
        ini = Path(tmp, "pytest.ini")
        ini.write_text("[pytest]\n")
        # refsuite is already imported (we are running), so pytest cannot rewrite its asserts;
        # the units' assertions carry their own messages, so that warning says nothing useful.
        base = [target or tmp, "-c", str(ini), "--rootdir", tmp, "-p", "no:cacheprovider",
                "-W", "ignore::pytest.PytestAssertRewriteWarning"]
        os.chdir(tmp)  # progress lines then show unit ids, not a temporary path
        try:
            code = int(pytest.main(base + argv, plugins=[*(plugins or []), _FreezeStartup()]))
            return interrupts.exit_code() if code == PYTEST_INTERRUPTED else code
        finally:
            os.chdir(cwd)
            # Unfrozen before the process exits: objects still frozen then are never finalised,
            # and extension modules built with nanobind (Triton's, imported by torch >= 2.15 with
            # torchvision) print a "leaked instances/types/functions" report on stderr for them.
            gc.unfreeze()


class _FreezeStartup:
    """Once the session is collected, the objects built so far (modules, torch's operator tables,
    the registry) live through the run: freezing them keeps every later full collection from
    walking them again. The run unfreezes them when it ends, as the process may go on."""

    def pytest_collection_finish(self, session) -> None:
        gc.freeze()
