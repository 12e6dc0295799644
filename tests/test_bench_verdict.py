"""`refsuite bench --compare` end to end: three real runs of a few configurations, the third with a
planted 2× slowdown in one of them (tests/bench_slowdown.py).

Made for a 2-core machine that other jobs share. Each run times on one thread (two spinning
OpenMP threads lose 5-9× to another job, by amounts that change from minute to minute); runs are
compared as fractions of their rounds' own SGEMM ceiling, which moves with the machine's load as
the hot path does (measured there: healthy runs minutes apart were 0.79-1.73× each other in
images/s but 0.96-1.12× in fraction of the ceiling); the comparisons take adjacent runs; and a
change counts from 40 % (a 2× slowdown is 50 %)."""
import pytest

from refsuite import cli

from bench_slowdown import plant

FEW = ["--quick", "--rounds", "5", "--threads", "1", "--", "-k", "sgemm or (both and fwdbwd and (eager_nchw or pool_first) and not cl_)"]
THRESHOLD = ["--threshold", "40", "--basis", "ceiling"]


@pytest.fixture(autouse=True)
def outside_xdist(monkeypatch):
    # pytest-benchmark stops timing inside an xdist worker, which is where `pytest -n 2` runs this
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)


def _listed(out: str, verdict: str) -> list[str]:
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{verdict} ("))
    listed = []
    for line in lines[start + 1:]:
        if not line.startswith("  "):
            break
        listed.append(line.split(":")[0].strip())
    return listed


@pytest.mark.slow
def test_compare_flags_a_planted_slowdown_and_nothing_in_healthy_runs(tmp_path, monkeypatch, capsys):
    a, b, c = (tmp_path / f"{name}.json" for name in "abc")
    assert cli.main(["bench", "--json", str(a), *FEW]) == 0
    assert cli.main(["bench", "--json", str(b), *FEW]) == 0
    with monkeypatch.context() as patched:
        plant(patched, factor=2.0)
        assert cli.main(["bench", "--json", str(c), *FEW]) == 0
    capsys.readouterr()

    healthy = cli.main(["bench", "--compare", str(a), str(b), *THRESHOLD])
    out = capsys.readouterr().out
    assert healthy == 0, out
    assert _listed(out, "slower") == [] and _listed(out, "faster") == [], out

    planted = cli.main(["bench", "--compare", str(b), str(c), *THRESHOLD])
    out = capsys.readouterr().out
    assert planted == 1, out
    assert _listed(out, "slower") == ["cpu both fwdbwd 256 pool_first"], out
    assert "verdict: SLOWER" in out
