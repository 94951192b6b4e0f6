"""Test-wide settings: the Hypothesis profiles of the unit tests."""
import os

from hypothesis import HealthCheck, settings

# `ci`: derandomized and bounded, so the same commit gives the same verdicts; `thorough`: for
# nightly depth. Choose with HYPOTHESIS_PROFILE=thorough.
settings.register_profile("ci", derandomize=True, max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=500, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The conformance run's options and hooks come from the package's pytest plugin
# (oracles.plugin, registered by the pytest11 entry point).
