import pytest

from refsuite import DuplicateUnitError, Registry, Requires, UnitGroup
from refsuite.core.devices import CPU, MPS, Device



def make_group(*ids):
    group = UnitGroup()
    for unit_id in ids:

        def check(ctx):
            """A check that does nothing."""

        group.unit(unit_id)(check)
    return group


def test_duplicate_ids_name_both_providers_and_add_nothing():
    reg = Registry()
    reg.add(make_group("tensors.a.b"), "first (dist-a 1.0)")
    with pytest.raises(DuplicateUnitError, match=r"'tensors.a.b'.*first \(dist-a 1.0\).*second \(dist-b 2.0\)"):
        reg.add(make_group("tensors.c.d", "tensors.a.b"), "second (dist-b 2.0)")
    assert "tensors.c.d" not in reg, "a rejected provider must not register any of its units"


def test_select_by_glob_in_tutorial_order():
    reg = Registry()
    reg.add(make_group("training.x.y", "tensors.b.a", "models.m.n", "tensors.a.z"), "p")
    assert [u.id for u in reg.select()] == ["tensors.a.z", "tensors.b.a", "models.m.n", "training.x.y"]
    assert [u.id for u in reg.select("tensors.*")] == ["tensors.a.z", "tensors.b.a"]
    assert [u.id for u in reg.select("*", exclude=["tensors.*"])] == ["models.m.n", "training.x.y"]


@pytest.mark.parametrize("bad", ["Tensors.x", "tensors", "tensors..x", "tensors.x-y"])
def test_ids_must_read_like_dotted_sentences(bad):
    with pytest.raises(ValueError, match="dotted lowercase"):
        make_group(bad)


def test_unit_needs_a_docstring_summary():
    with pytest.raises(ValueError, match="docstring"):
        UnitGroup().unit("tensors.a.b")(lambda ctx: None)


def test_requirements_explain_skips():
    mps = Device(MPS)
    cpu = Device(CPU)
    assert Requires(capabilities=frozenset({"float64"})).unmet(mps, None) == "device mps lacks float64"
    assert Requires(capabilities=frozenset({"float64"})).unmet(cpu, None) is None
    assert "torch>=99" in Requires(min_torch="99").unmet(cpu, None)
    assert "no_such_pkg" in Requires(packages=("no_such_pkg",)).unmet(cpu, None)
    assert "--dataset cifar10" in Requires(dataset="cifar10").unmet(cpu, "synthetic-cifar10")
    assert "--runslow" in Requires(slow=True).unmet(cpu, None, runslow=False)


def _renamed(new_id, old_id):
    group = UnitGroup()

    def check(ctx):
        """A check that moved."""

    group.unit(new_id, aliases=(old_id,))(check)
    return group


def test_an_old_id_finds_the_renamed_unit_with_a_warning():
    reg = Registry()
    reg.add(_renamed("fastpath.c.works", "models.hotpath.c_works"), "p (dist 1.0)")
    assert "models.hotpath.c_works" in reg and reg.canonical("models.hotpath.c_works") == "fastpath.c.works"
    with pytest.warns(FutureWarning, match="'models.hotpath.c_works' is deprecated: it is now 'fastpath.c.works'"):
        assert reg.get("models.hotpath.c_works").id == "fastpath.c.works"
    assert [u.id for u in reg.select("models.*")] == [], "old ids are not listed as units of their own"


def test_an_alias_may_not_shadow_another_units_id():
    reg = Registry()
    reg.add(make_group("tensors.a.b"), "first (dist-a 1.0)")
    with pytest.raises(DuplicateUnitError, match="'tensors.a.b'.*first.*second"):
        reg.add(_renamed("tensors.c.d", "tensors.a.b"), "second (dist-b 2.0)")
    assert "tensors.c.d" not in reg
