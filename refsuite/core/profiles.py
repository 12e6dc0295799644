"""Hypothesis profiles: ``dev`` (fast), ``ci`` (the default: derandomised), ``thorough``."""
from __future__ import annotations

from hypothesis import HealthCheck, settings

DEFAULT_PROFILE = "ci"
PROFILES = ("dev", "ci", "thorough")

# Units build their @given functions inside the check, and device work is slow on first
# touch; neither is a defect in the generated data.
_QUIET = [HealthCheck.too_slow, HealthCheck.differing_executors]

settings.register_profile("dev", max_examples=10, deadline=None, suppress_health_check=_QUIET, print_blob=True)
# derandomize: the same examples on every CI run, so a red CI run replays locally.
settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, database=None, suppress_health_check=_QUIET, print_blob=True
)
settings.register_profile("thorough", max_examples=300, deadline=None, suppress_health_check=_QUIET, print_blob=True)


def settings_for(profile: str, device_type: str, max_examples: int | None = None) -> settings:
    """The profile's settings for one device; timing deadlines never apply off the CPU.

    ``max_examples``: the device's cap (``DeviceType.max_examples``), applied when the profile asks for more.
    """
    base = settings.get_profile(profile)  # raises InvalidArgument naming unknown profiles
    if max_examples is not None and max_examples < base.max_examples:
        base = settings(base, max_examples=max_examples)
    if device_type != "cpu":
        return settings(base, deadline=None)
    return base


__all__ = ["DEFAULT_PROFILE", "PROFILES", "settings_for"]
