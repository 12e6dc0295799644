"""``refsuite doctor``: versions, devices and their capabilities, datasets, providers, broken plugins."""
from __future__ import annotations

import argparse

from .. import options


def configure(p: argparse.ArgumentParser) -> None:
    options.add_to_argparse(p, [options.DEVICE])


def main(args: argparse.Namespace) -> int:
    from ..core.devices import availability, resolve_devices
    from ..core.discovery import discover
    from ..core.errors import UsageError
    from ..core.records import environment
    from ..datasets.base import DATA_ROOT_ENV, DEFAULT_DATASET

    plugins = discover()
    env = environment()
    print(f"refsuite {env['refsuite']}")
    print(f"python {env['python']} ({env['executable']})")
    print(f"torch {env['torch']} (CUDA {env['cuda']}, cuDNN {env['cudnn']})")
    print(f"torchvision {env['torchvision']}")
    print(f"threads: intra-op {env['threads']}, inter-op {env['interop_threads']}")
    print("\ndevices:")
    hooks_failed = False
    for name, dtype in plugins.devices.items():
        available, problem = availability(dtype)
        if problem is not None:  # the plugin's own hooks fail: say so, and go on with the others
            hooks_failed = True
            print(f"  {name:<6} not available  {problem}")
            continue
        facts = dtype.facts()
        state = "available" if facts["available"] else "not available"
        print(f"  {name:<6} {state:<14} count={facts['count']} capabilities={','.join(facts['capabilities'])}"
              f" tolerances={ {str(k).replace('torch.', ''): v for k, v in dtype.tolerances.items()} }")
        for label in facts.get("names", []):
            print(f"         {label}")
        if not facts["available"]:
            print(f"         why: {dtype.unavailable_reason()}")
        for capability, why in getattr(dtype, "lacking", {}).items():
            print(f"         lacks {capability}: {why}")
        print(f"         dtypes: {' '.join(facts['dtypes'])}")
    named_problem = None
    for spec in args.device:
        # a type no plugin describes goes through the generic fallback, as a run would
        try:
            found = resolve_devices([spec], plugins.devices)
            print(f"  --device {spec}: {', '.join(f'{d.label} ({d.type.description or type(d.type).__name__})' for d in found)}")
        except UsageError as exc:
            named_problem = str(exc)
            print(f"  --device {spec}: {exc}")
    print("\ndatasets:")
    default_problem = None
    for name, ds in plugins.datasets.items():
        problem = ds.problem(None, False)
        if name == DEFAULT_DATASET:
            default_problem = problem
        print(f"  {name:<18} {'available' if problem is None else 'not available: ' + problem}  {ds.description}")
        print(f"  {'':<18} capabilities: {' '.join(sorted(getattr(ds, 'capabilities', ()))) or 'none'}")
    print(f"  (data root from --data-root or ${DATA_ROOT_ENV})")
    print("\nbenchmark variants: " + (", ".join(plugins.variants) or "none"))
    for name, variant in plugins.variants.items():
        print(f"  {name:<18} {getattr(variant, 'doc', '')}")
    print("\nproviders:")
    for p in plugins.providers:
        if p.error is None:
            extra = f"{len(list(p.loaded))} units" if p.group == "refsuite.units" else ""
            print(f"  ok      {p.label}  {p.value}  {extra}")
    if plugins.failures:
        print("\nplugins that failed to load:")
        for p in plugins.failures:
            print(f"  FAILED  {p.label}  {p.value}")
            print("    " + p.error.rstrip().replace("\n", "\n    "))
    print(f"\n{len(plugins.units)} units registered")
    if default_problem:
        print(f"\nthe default dataset cannot be used: {default_problem}")
    # a run would fail for any of these: so does the doctor
    return 1 if plugins.failures or hooks_failed or default_problem or named_problem else 0
