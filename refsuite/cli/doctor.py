"""``refsuite doctor``: versions, devices and their capabilities, datasets, providers, broken plugins."""
from __future__ import annotations

import argparse


def configure(p: argparse.ArgumentParser) -> None:
    pass


def main(args: argparse.Namespace) -> int:
    from ..core.discovery import discover
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
    for name, dtype in plugins.devices.items():
        facts = dtype.facts()
        state = "available" if facts["available"] else "not available"
        print(f"  {name:<6} {state:<14} count={facts['count']} capabilities={','.join(facts['capabilities'])}"
              f" tolerances={ {str(k).replace('torch.', ''): v for k, v in dtype.tolerances.items()} }")
        for label in facts.get("names", []):
            print(f"         {label}")
        print(f"         dtypes: {' '.join(facts['dtypes'])}")
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
    # a run would fail for either: so does the doctor
    return 1 if plugins.failures or default_problem else 0
