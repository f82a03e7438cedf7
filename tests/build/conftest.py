"""Fixtures of the build-code tests (defined in build_helpers)."""

from build_helpers import fake_wheel, python  # noqa: F401  (re-exported fixtures)
