"""Discovery's stages, in process: entry points of a distribution written beside the test (no pip)
are found, loaded and checked against their group's contract; a plugin that breaks it is a failing
provider with the reason at discovery, not an error at first use, and the others still load."""
import dataclasses
import importlib
import sys

import pytest

from distributions import run_refsuite, write_distribution
from refsuite.core import discovery

MODULE = "plugin_stages"
PLUGIN = '''
    from refsuite import DatasetPlugin
    from refsuite.bench.variants import Variant


    class NoLoad(DatasetPlugin):
        name = "noload"
        description = "forgot to implement load"
        capabilities = frozenset({"colour"})


    class Stray:
        name = "stray"


    class WrongLoad(DatasetPlugin):
        name = "wrongload"

        def load(self):
            pass


    class Half:
        name = "half"
        doc = "has no build"


    NOLOAD, STRAY, WRONGLOAD = NoLoad(), Stray(), WrongLoad()
    BARE = Variant("bare", "exported alone, not in an iterable")
    HALF = (Half(),)
    WORDS = ("fused",)
    GOOD = (Variant("good", "a proper variant"),)
'''
ENTRY_POINTS = {
    "refsuite.datasets": {"noload": f"{MODULE}:NOLOAD", "stray": f"{MODULE}:STRAY", "wrongload": f"{MODULE}:WRONGLOAD"},
    "refsuite.bench_variants": {"bare": f"{MODULE}:BARE", "half": f"{MODULE}:HALF", "words": f"{MODULE}:WORDS",
                                "good": f"{MODULE}:GOOD"},
}


@pytest.fixture
def site(tmp_path, monkeypatch):
    site = write_distribution(tmp_path / "site", "refsuite-stages", {MODULE: PLUGIN}, ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    yield site
    sys.modules.pop(MODULE, None)


@pytest.fixture
def found(site):
    found = discovery.classify(discovery.load(f) for f in discovery.find_providers() if f.dist == "refsuite-stages 1.0")
    assert len(found.providers) == 7, found.providers
    return found


def test_a_dataset_missing_its_contract_is_a_failing_provider_with_the_reason(found):
    broken = found.broken("refsuite.datasets")
    assert set(broken) == {"noload", "stray", "wrongload"} and not found.datasets
    assert "`load` is DatasetPlugin's own, which loads nothing: override it" in broken["noload"]
    assert "breaks the dataset contract" in broken["stray"]
    for missing in ("has no `description` (a string)", "`capabilities` is None, not a set of names from",
                    "has no `problem(root, download)` method", "has no `load(root, download)` method"):
        assert missing in broken["stray"]
    assert "`load` does not take (root, download): its signature is ()" in broken["wrongload"]


def test_a_bench_variant_of_the_wrong_shape_is_a_failing_provider_and_the_others_load(found):
    broken = found.broken("refsuite.bench_variants")
    assert set(broken) == {"bare", "half", "words"}
    assert "plugin_stages:BARE is Variant(name='bare'" in broken["bare"]
    assert "not an iterable of benchmark variants" in broken["bare"]
    assert "benchmark variant 'half' from plugin_stages:HALF is a Half without skip_reason(), settings(), build(), " \
           "forward_only, compile: export refsuite.bench.variants.Variant objects" in broken["half"]
    assert "plugin_stages:WORDS exported 'fused', which has no name" in broken["words"]
    assert list(found.variants) == ["good"]


def test_each_stage_is_a_new_immutable_record(site):
    first = next(f for f in discovery.find_providers() if f.name == "noload")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.name = "other"
    loaded = discovery.load(first)
    assert loaded.error is None and type(loaded.loaded).__name__ == "NoLoad"
    checked = discovery.validate(loaded)
    assert checked is not loaded and loaded.error is None and "override it" in checked.error
    plugins = discovery.classify([loaded])
    assert loaded.error is None and plugins.providers == (checked,)


def test_a_failing_provider_found_at_discovery_shows_in_the_doctor(site, tmp_path):
    doctor = run_refsuite("doctor", site=site, cwd=tmp_path)
    assert doctor.returncode == 1, doctor.stdout[-3000:] + doctor.stderr[-2000:]
    assert "FAILED  refsuite.datasets:noload (refsuite-stages 1.0)" in doctor.stdout, doctor.stdout[-3000:]
    assert "`load` is DatasetPlugin's own, which loads nothing: override it" in doctor.stdout
    assert "good " in doctor.stdout.split("benchmark variants:", 1)[1].split("providers:", 1)[0]
