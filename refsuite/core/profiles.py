"""refsuite's hypothesis profiles: ``dev`` (fast), ``ci`` (the default: derandomised), ``thorough``.

They are settings objects of refsuite's own, handed to each unit's properties, and are not
registered with hypothesis: its profiles are global, and a project's own ``ci`` profile (or
hypothesis's built-in one) must keep meaning what that project says wherever refsuite is installed.
hypothesis is imported on first use, so that naming the profiles (``--help``) stays cheap.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hypothesis import settings

DEFAULT_PROFILE = "ci"
#: name -> (examples per property, derandomized); derandomized in ci: a red CI run replays locally
_PROFILES = {"dev": (10, False), "ci": (25, True), "thorough": (300, False)}
PROFILE_NAMES = tuple(_PROFILES)


@functools.cache
def get_profile(profile: str) -> "settings":
    """The settings of one of refsuite's profiles; a ValueError naming the known ones otherwise."""
    from hypothesis import HealthCheck, settings

    if profile not in _PROFILES:
        raise ValueError(f"unknown refsuite profile {profile!r}: choose from {', '.join(PROFILE_NAMES)}")
    max_examples, derandomize = _PROFILES[profile]
    # hypothesis's own defaults as the parent, not whatever profile the surrounding session loaded.
    # Units build their @given functions inside the check, and device work is slow on first touch:
    # neither is a defect in the generated data; and a device's first call has no fair deadline.
    chosen = settings(settings.get_profile("default"), max_examples=max_examples, derandomize=derandomize,
                      deadline=None, print_blob=True,
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
    return settings(chosen, database=None) if derandomize else chosen


def settings_for(profile: str, device_type: str, max_examples: int | None = None) -> "settings":
    """The profile's settings for one device type.

    ``max_examples``: the device's cap (``DeviceType.max_examples``), applied when the profile asks for more.
    """
    from hypothesis import settings

    base = get_profile(profile)
    if max_examples is not None and max_examples < base.max_examples:
        base = settings(base, max_examples=max_examples)
    return base


__all__ = ["DEFAULT_PROFILE", "PROFILE_NAMES", "get_profile", "settings_for"]
