"""Write small installed-distribution layouts (a module plus .dist-info with entry points).

importlib.metadata finds them like any installed package once their directory is on the
path of a subprocess; the pip-installed plugins in plugins/ are tested separately.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path


def write_distribution(site: Path, name: str, modules: dict[str, str], entry_points: dict[str, dict[str, str]]) -> Path:
    site.mkdir(parents=True, exist_ok=True)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{name.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    lines = []
    for group, entries in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{k} = {v}" for k, v in entries.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site


def run_refsuite(*args: str, site: Path | None = None, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "refsuite", *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def ctrl_c_reaches_it() -> None:
    """``preexec_fn`` for a child a test interrupts: SIGINT's default action, even where the test run
    itself was started with SIGINT ignored (a shell's background job, some CI runners) and the
    child would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
