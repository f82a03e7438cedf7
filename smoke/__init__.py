"""Smoke tests of a built CodeTracer artifact: ``python -m smoke ARTIFACT``.

The artifact must record a real program with the user's own Python, in venvs that do not
contain the recorder, and produce what plain Python produces. Per-artifact mechanics (how
to start ``ct`` and the shim from an AppImage, an app bundle or an install dir) live in
:mod:`smoke.runners`; the checks do not care which kind of artifact they talk to.
"""
