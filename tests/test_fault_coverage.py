"""Every unit of this repository (refsuite's and its plugins') has a planted-fault test: a test that
breaks what the unit checks and asserts that it fails."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OURS = {"refsuite"} | {re.search(r'^name = "(.+)"', p.read_text(), re.M)[1] for p in ROOT.glob("plugins/*/pyproject.toml")}


def test_every_unit_of_this_repository_has_a_planted_fault_test(plugins):
    sources = [p.read_text() for p in list(ROOT.glob("tests/**/test_*.py")) + list(ROOT.glob("plugins/*/tests/**/test_*.py"))]
    text = "\n".join(sources)
    # unit.fails("id"), or a direct check of the unit under pytest.raises (units that cannot run here)
    planted = set(re.findall(r"""\.fails\(\s*["']([a-z0-9_.]+)["']""", text))
    planted |= set(re.findall(r"""units\.get\(\s*["']([a-z0-9_.]+)["']\)\.check""", text))
    ours = {u.id for u in plugins.units if re.search(r"\((\S+) ", u.provider)[1] in OURS}
    assert "tensors.seed.golden" in ours, "no built-in units found"
    missing = sorted(ours - planted)
    assert not missing, f"units without a planted-fault test: {missing}"


def test_every_memory_layout_has_a_planted_fault_test():
    from test_memory_layout_faults import PLANTED

    from refsuite.core.strategies import LAYOUTS

    assert set(PLANTED) == set(LAYOUTS) - {"contiguous"}, "each layout the strategies draw needs a fault that only it exposes"


def test_every_numerics_condition_has_a_planted_fault_test():
    import test_numerics_faults
    from test_numerics_faults import CATEGORIES

    wanted = {"nan", "size", "half", "bfloat16", "batched_backward", "inplace", "int_overflow"}
    assert set(CATEGORIES) == wanted, f"conditions without a planted fault: {sorted(wanted - set(CATEGORIES))}"
    for condition, name in CATEGORIES.items():
        test = getattr(test_numerics_faults, name, None)
        assert callable(test) and name.startswith("test_"), f"{condition}: no test function {name!r} in test_numerics_faults"
