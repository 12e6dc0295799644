"""``refsuite doctor``: versions, devices and their capabilities, datasets, providers, broken plugins."""
from __future__ import annotations

import argparse

from .. import options
from .exit_codes import Exit


def configure(p: argparse.ArgumentParser) -> None:
    options.add_to_argparse(p, [options.DEVICE])


def main(args: argparse.Namespace) -> int:
    from ..core.discovery import discover

    plugins = discover()
    print("\n".join(_versions()))
    print("\ndevices:")
    problems = []
    for name, dtype in plugins.devices.items():
        lines, problem = _device(name, dtype)
        print("\n".join(lines))
        problems.append(problem is not None)
    for spec in args.device:
        line, problem = _named_device(spec, plugins.devices)
        print(line)
        problems.append(problem is not None)
    print("\ndatasets:")
    lines, default_problem = _datasets(plugins.datasets)
    print("\n".join(lines))
    print("\n".join(_variants(plugins.variants) + _providers(plugins)))
    print(f"\n{len(plugins.units)} units registered")
    if default_problem:
        print(f"\nthe default dataset cannot be used: {default_problem}")
    # a run would fail for any of these: so does the doctor
    failed = plugins.failures or default_problem or any(problems)
    return Exit.FAILED if failed else Exit.OK


def _versions() -> list[str]:
    from ..core.records import environment

    env = environment()
    return [f"refsuite {env['refsuite']}",
            f"python {env['python']} ({env['executable']})",
            f"torch {env['torch']} (CUDA {env['cuda']}, cuDNN {env['cudnn']})",
            f"torchvision {env['torchvision']}",
            f"threads: intra-op {env['threads']}, inter-op {env['interop_threads']}"]


def _device(name: str, dtype) -> tuple[list[str], str | None]:
    """A device type's lines; and what is wrong with its plugin, if its own hooks fail."""
    from ..core.devices import availability

    _, problem = availability(dtype)
    if problem is not None:  # the plugin's own hooks fail: say so, and go on with the others
        return [f"  {name:<6} not available  {problem}"], problem
    facts = dtype.facts()
    state = "available" if facts["available"] else "not available"
    tolerances = {str(k).replace("torch.", ""): v for k, v in dtype.tolerances.items()}
    lines = [f"  {name:<6} {state:<14} count={facts['count']} capabilities={','.join(facts['capabilities'])}"
             f" tolerances={tolerances}"]
    lines += [f"         {label}" for label in facts.get("names", [])]
    if not facts["available"]:
        lines.append(f"         why: {dtype.unavailable_reason()}")
    lines += [f"         lacks {capability}: {why}" for capability, why in getattr(dtype, "lacking", {}).items()]
    lines.append(f"         dtypes: {' '.join(facts['dtypes'])}")
    return lines, None


def _named_device(spec: str, device_types) -> tuple[str, str | None]:
    """What ``--device spec`` resolves to, as a run would resolve it; and why it cannot be used, if so."""
    from ..core.devices import resolve_devices
    from ..core.errors import UsageError

    # a type no plugin describes goes through the generic fallback, as a run would
    try:
        found = resolve_devices([spec], device_types)
    except UsageError as exc:
        return f"  --device {spec}: {exc}", str(exc)
    described = (f"{d.label} ({d.type.description or type(d.type).__name__})" for d in found)
    return f"  --device {spec}: {', '.join(described)}", None


def _datasets(datasets) -> tuple[list[str], str | None]:
    """Each dataset's lines; and why the default one cannot be used, if it cannot."""
    from ..datasets.base import DATA_ROOT_ENV, DEFAULT_DATASET

    lines, default_problem = [], None
    for name, ds in datasets.items():
        problem = ds.problem(None, False)
        if name == DEFAULT_DATASET:
            default_problem = problem
        lines.append(f"  {name:<18} {'available' if problem is None else 'not available: ' + problem}  {ds.description}")
        lines.append(f"  {'':<18} capabilities: {' '.join(sorted(getattr(ds, 'capabilities', ()))) or 'none'}")
    lines.append(f"  (data root from --data-root or ${DATA_ROOT_ENV})")
    return lines, default_problem


def _variants(variants) -> list[str]:
    lines = ["\nbenchmark variants: " + (", ".join(variants) or "none")]
    return lines + [f"  {name:<18} {getattr(variant, 'doc', '')}" for name, variant in variants.items()]


def _providers(plugins) -> list[str]:
    """The providers that loaded, then each that failed with its traceback."""
    lines = ["\nproviders:"]
    for p in plugins.providers:
        if p.error is None:
            extra = f"{len(list(p.loaded))} units" if p.group == "refsuite.units" else ""
            lines.append(f"  ok      {p.label}  {p.value}  {extra}")
    if plugins.failures:
        lines.append("\nplugins that failed to load:")
        for p in plugins.failures:
            lines += [f"  FAILED  {p.label}  {p.value}", "    " + p.error.rstrip().replace("\n", "\n    ")]
    return lines
