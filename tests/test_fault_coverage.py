"""Every unit has a planted-fault test: a test that breaks what it checks and asserts it fails."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_built_in_unit_has_a_planted_fault_test(plugins):
    sources = [p.read_text() for p in list(ROOT.glob("tests/**/test_*.py")) + list(ROOT.glob("plugins/*/tests/test_*.py"))]
    text = "\n".join(sources)
    # unit.fails("id"), or a direct check of the unit under pytest.raises (units that cannot run here)
    planted = set(re.findall(r"""\.fails\(\s*["']([a-z0-9_.]+)["']""", text))
    planted |= set(re.findall(r"""units\.get\(\s*["']([a-z0-9_.]+)["']\)\.check""", text))
    built_in = {u.id for u in plugins.units if "(refsuite " in u.provider}
    assert built_in, "no built-in units found"
    missing = sorted(built_in - planted)
    assert not missing, f"units without a planted-fault test: {missing}"
