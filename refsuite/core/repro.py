"""Repro bundles (``--repro DIR``): a failing unit's comparison, reproducible with torch and numpy alone.

Each bundle is a folder ``DIR/<unit id>[<device>]/`` holding ``repro.py`` (imports only torch
and numpy; loads data only through ``torch.load(weights_only=True)``), ``compared.pt`` (the
result and the reference as compared), ``inputs.pt`` (when the unit said how it computed the
result: ``ctx.assert_close(..., repro=(code, inputs))``), ``facts.json`` (tolerance, versions,
device, rerun and replay commands, hypothesis's blob), ``failure.txt`` and ``README.txt``.
``python repro.py`` exits 1 while the values differ, 0 once they agree, 2 when it cannot run.
"""
from __future__ import annotations

import json
import keyword
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from .errors import OutputError

#: what repro.py's recomputation may call besides its inputs
_NAMES = {"torch", "np", "F"}


def capture(exc: BaseException, actual: Any, expected: Any, policy, tolerances: dict, repro, *,
            message: str | None, device) -> dict:
    """What a bundle needs of a failing comparison, copied now (the unit may reuse its tensors)."""
    got = torch.as_tensor(actual).detach()
    compared = {"actual": got.cpu().clone(),
                "expected": torch.as_tensor(expected).detach().cpu().to(got.dtype).clone()}
    kwargs = {k: v for k, v in tolerances.items() if k in ("rtol", "atol", "equal_nan")}
    if "rtol" not in kwargs:
        kwargs.update(policy.for_dtype(got.dtype))
    expression, inputs, problem = None, {}, None
    if repro is not None:
        expression, inputs, problem = _recomputation(repro)
    return {"exception": exc, "message": message, "compared": compared, "tolerances": kwargs,
            "device": str(got.device) if isinstance(actual, torch.Tensor) else str(device.torch),
            "label": device.label, "expression": expression, "inputs": inputs, "repro_problem": problem}


def _recomputation(repro) -> tuple[str | None, dict, str | None]:
    try:
        code, named = repro
        compile(code, "<repro>", "eval")
        if not all(isinstance(k, str) and k.isidentifier() and not keyword.iskeyword(k) and k not in _NAMES
                   for k in named):
            raise ValueError(f"input names must be identifiers other than {sorted(_NAMES)}: {sorted(named)}")
        inputs = {k: v.detach().cpu().clone() if isinstance(v, torch.Tensor) else v for k, v in named.items()}
    except Exception as exc:  # the unit's own mistake: the bundle still re-checks the saved values
        return None, {}, f"repro= could not be used ({type(exc).__name__}: {exc})"
    return code, inputs, None


def is_cause(failure: dict | None, exc: BaseException, leaves) -> bool:
    """Whether the captured comparison is what failed the unit (not an earlier example's, nor a
    comparison whose failure the unit caught while something else failed it)."""
    return failure is not None and any(leaf is failure["exception"] for leaf in leaves(exc))


def write_bundle(root: str | os.PathLike, name: str, failure: dict | None, facts: dict, report: str) -> Path:
    """Write the bundle for one failing unit into ``root/name`` (replacing an earlier one); its path.

    OutputError if something other than a bundle's directory is in the way."""
    root = Path(root)
    target = root / name
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise OutputError(f"{target} exists and is not a directory refsuite made; move it away", target)
    staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}."))
    try:
        recomputes = failure is not None and failure["expression"] is not None
        if failure is not None:
            torch.save(failure["compared"], staging / "compared.pt")
            if recomputes:
                torch.save(failure["inputs"], staging / "inputs.pt")
            facts = {**facts, "compared": True, "recomputes": recomputes, "message": failure["message"],
                     "tolerances": failure["tolerances"], "device": failure["device"],
                     "expression": failure["expression"], "repro_problem": failure["repro_problem"],
                     "inputs": {k: _shape(v) for k, v in failure["inputs"].items()},
                     "result": _shape(failure["compared"]["actual"])}
        else:
            facts = {**facts, "compared": False, "recomputes": False}
        (staging / "facts.json").write_text(json.dumps(facts, indent=2, sort_keys=True, default=str) + "\n")
        (staging / "failure.txt").write_text(report.rstrip() + "\n")
        (staging / "repro.py").write_text(_script(failure, facts))
        (staging / "README.txt").write_text(_readme(failure, facts))
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp's 0700 would make the bundle private
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.old."))
            os.replace(target, old / "bundle")
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _shape(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}"
    return repr(value)


_SCRIPT = '''\
"""{title}

Needs only torch and numpy. Exit status: 1 while the values differ beyond the tolerance (the
fault is there), 0 once they agree, 2 when it cannot run here (no such device, unreadable files).
{how}
Another device of the same type: python repro.py --device cuda:1
"""
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
DEVICE = {device!r}
RECOMPUTES = {recomputes!r}
#: how the unit's failure message starts (assert_close's own message follows it)
MESSAGE = {message!r}
TOLERANCES = {tolerances!r}


def recompute({params}):
    return (
        {expression}
    )


def main(argv):
    device = argv[argv.index("--device") + 1] if "--device" in argv else DEVICE
    try:
        # only tensors, through torch's safe loader: nothing in a bundle runs as code but this file
        compared = torch.load(HERE / "compared.pt", weights_only=True)
        if RECOMPUTES:
            inputs = torch.load(HERE / "inputs.pt", weights_only=True)
            inputs = {{k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}}
            actual = recompute(**inputs)
            print(f"recomputed the result on {{device}} from inputs.pt")
        else:
            actual = compared["actual"]
            print("NOTE: this bundle does NOT recompute anything: the unit gave no standalone recomputation, "
                  "so this re-checks the result the failing run saved (compared.pt) against the reference. "
                  "Rerun the unit to test a fix (facts.json: rerun, replay).")
    except Exception as exc:
        print(f"cannot reproduce here: {{type(exc).__name__}}: {{exc}}", file=sys.stderr)
        return 2
    # as refsuite compares: on the CPU, the reference cast to the result's dtype
    actual = torch.as_tensor(actual).detach().cpu()
    expected = compared["expected"].to(actual.dtype)
    msg = (lambda default: f"{{MESSAGE}}\\n{{default}}") if MESSAGE else None
    try:
        torch.testing.assert_close(actual, expected, msg=msg, **TOLERANCES)
    except AssertionError as exc:
        print(f"AssertionError: {{exc}}")
        print("FAULT REPRODUCED (exit 1)")
        return 1
    print("the values agree within the tolerance: the fault is gone (exit 0)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
'''

_NO_COMPARISON = '''\
"""{title}

The unit did not fail at a comparison refsuite could capture ({why}), so there is nothing to
recompute here. Exit status 2. Reproduce it with refsuite (facts.json, README.txt):
    {rerun}
"""
import sys

print("cannot reproduce standalone: the unit did not fail at a captured comparison; rerun it with refsuite:\\n"
      "    " + {rerun!r}, file=sys.stderr)
sys.exit(2)
'''


def _script(failure: dict | None, facts: dict) -> str:
    title = f"Reproduces refsuite unit {facts['unit']} failing on {facts['device_label']}."
    if failure is None:
        return _NO_COMPARISON.format(title=title, why=facts.get("reason", "?").replace('"', "'")[:200],
                                     rerun=facts["rerun"])
    recomputes = failure["expression"] is not None
    how = ("It recomputes the result with torch from inputs.pt and compares it with the saved reference.\n"
           if recomputes else
           "It does NOT recompute: it re-checks the result the run saved against the reference.\n")
    params = ", ".join(sorted(failure["inputs"])) if recomputes else ""
    return _SCRIPT.format(title=title, how=how, device=failure["device"], recomputes=recomputes,
                          message=failure["message"], tolerances=failure["tolerances"], params=params,
                          expression=failure["expression"] if recomputes else 'compared["actual"]  # unused')


def _readme(failure: dict | None, facts: dict) -> str:
    lines = [f"refsuite repro bundle: {facts['unit']} on {facts['device_label']}", "",
             f"Why it failed: {facts.get('reason', '?')}", ""]
    if failure is None:
        lines += ["The unit did not fail at a comparison refsuite could capture, so repro.py cannot reproduce it",
                  "standalone; it says so and exits 2. Reproduce it with refsuite:"]
    else:
        if failure["expression"] is not None:
            lines += ["python repro.py recomputes the failing comparison's result with torch alone:",
                      f"    {failure['expression']}",
                      f"from inputs.pt ({', '.join(f'{k}: {v}' for k, v in facts['inputs'].items())}) on "
                      f"{failure['device']}, and compares it with the saved reference as the unit did."]
        else:
            lines += ["python repro.py does NOT recompute anything: the unit's comparison gave no standalone",
                      "recomputation (ctx.assert_close(..., repro=...)), so it re-checks the result the failing",
                      "run saved against the saved reference. That shows the mismatch; to test a fix, rerun the",
                      "unit with refsuite (below)."]
            if failure["repro_problem"]:
                lines.append(f"({failure['repro_problem']})")
        lines += ["", "Exit status: 1 while the values differ beyond the tolerance, 0 once they agree, 2 when it",
                  "cannot run here. It needs only torch and numpy, and reads the .pt files only through",
                  "torch.load(..., weights_only=True).", "",
                  f"Tolerance: {failure['tolerances'] or 'torch.testing.assert_close defaults for the dtype'}",
                  "", "Files: repro.py, compared.pt (actual, expected as compared)"
                  + (", inputs.pt" if failure["expression"] is not None else "")
                  + ", facts.json (versions, device, tolerance, commands), failure.txt (the unit's report)", "",
                  "The whole unit, as the run ran it:"]
    lines.append(f"    {facts['rerun']}")
    if facts.get("replay"):
        lines += ["This failing example alone (hypothesis's blob in facts.json):", f"    {facts['replay']}"]
    return "\n".join(lines) + "\n"
