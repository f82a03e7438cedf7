"""Run the bundled CodeTracer recorder with the interpreter that runs this file.

Started as ``PYTHON resources/python/ct_bootstrap.py [recorder options] SCRIPT [ARGS...]``
by ``ct record`` and by the ``ct-python-recorder`` shim. It picks the site dir from
``manifest.json`` that matches this interpreter, puts it at ``sys.path[0]`` in place of this
file's own directory and hands over to ``codetracer_python_recorder.cli.main()``. Nothing
is added to the environment, so the recorded program sees plain ``python SCRIPT``.

Kept to old syntax (no f-strings, no annotations) so that even an interpreter that is too
old gets the one-line error below instead of a SyntaxError. Exit statuses and the rule that
picks a wheel are ct's own (``contract.py``, ``bundle_match.py`` from src/ct, staged beside
this file), so ct never chooses a bundle this file then refuses.
"""

import json
import os
import sys
import types

HERE = os.path.dirname(os.path.abspath(__file__))
# In a bundle the shared modules sit beside this file (staged by ctbuild.stage); in the
# source tree they are ct's own, in src/ct.
SHARED_DIRS = (HERE, os.path.join(HERE, os.pardir, os.pardir, "src", "ct"))


def load_shared(name):
    """ct's stdlib-only module ``name`` (``contract``, ``bundle_match``), run from its file
    without entering sys.modules, so the recorded program's imports are untouched."""
    for folder in SHARED_DIRS:
        path = os.path.join(folder, name + ".py")
        if os.path.isfile(path):
            module = types.ModuleType("ct_bootstrap_" + name)
            module.__file__ = path
            with open(path) as fh:
                exec(compile(fh.read(), path, "exec"), module.__dict__)
            return module
    sys.exit("ct-python-recorder: error: %s.py is missing beside %s; reinstall CodeTracer"
             % (name, __file__))


contract = load_shared("contract")
bundle_match = load_shared("bundle_match")
MIN_VERSION = contract.MIN_PYTHON


def fail(message):
    sys.stderr.write("ct-python-recorder: error: %s\n" % message)
    sys.exit(contract.ENVIRONMENT)


def choose_site_dir(manifest, version, implementation):
    """The site dir of the best matching wheel in the manifest, or None."""
    entry = bundle_match.choose_wheel(manifest, version, implementation)
    return entry["site_dir"] if entry else None


def main():
    here = HERE
    version = tuple(sys.version_info[:3])
    shown = "%d.%d.%d" % version
    if version[:2] < MIN_VERSION:
        fail(
            "%s is Python %s; the CodeTracer recorder needs Python %d.%d or newer"
            % (sys.executable, shown, MIN_VERSION[0], MIN_VERSION[1])
        )
    try:
        with open(os.path.join(here, "manifest.json")) as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        fail("cannot read the bundle manifest in %s: %s" % (here, exc))
    site_dir = choose_site_dir(manifest, version, sys.implementation.name)
    if site_dir is None:
        fail(
            "no bundled recorder matches %s (%s %s); bundled: %s"
            % (sys.executable, sys.implementation.name, shown,
               ", ".join(e.get("wheel", "?") for e in manifest.get("wheels", [])) or "none")
        )
    site = os.path.join(here, site_dir)
    # sys.path[0] is this file's directory: replace it, so nothing of the bundle but the
    # recorder is importable; the recorder later sets sys.path[0] to the script's dir.
    if sys.path and os.path.abspath(sys.path[0] or ".") == here:
        sys.path[0] = site
    else:
        sys.path.insert(0, site)
    sys.argv[0] = "ct-python-recorder"
    from codetracer_python_recorder.cli import main as recorder_main

    sys.exit(recorder_main())


if __name__ == "__main__":
    main()
