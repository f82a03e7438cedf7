"""Run the bundled CodeTracer recorder with the interpreter that runs this file.

Started as ``PYTHON resources/python/ct_bootstrap.py [recorder options] SCRIPT [ARGS...]``
by ``ct record`` and by the ``ct-python-recorder`` shim. It picks the site dir from
``manifest.json`` that matches this interpreter, puts it at ``sys.path[0]`` in place of this
file's own directory and hands over to ``codetracer_python_recorder.cli.main()``. Nothing
is added to the environment, so the recorded program sees plain ``python SCRIPT``.

Kept to old syntax (no f-strings, no annotations) so that even an interpreter that is too
old gets the one-line error below instead of a SyntaxError.
"""

import json
import os
import sys

MIN_VERSION = (3, 12)
EXIT_ENVIRONMENT = 10


def fail(message):
    sys.stderr.write("ct-python-recorder: error: %s\n" % message)
    sys.exit(EXIT_ENVIRONMENT)


def parse_min_version(spec):
    """Lower bound of a ``>=X.Y`` requires-python spec (other clauses are ignored)."""
    for clause in (spec or "").split(","):
        clause = clause.strip()
        if clause.startswith(">="):
            parts = clause[2:].strip().split(".")
            try:
                return tuple(int(p) for p in parts[:2])
            except ValueError:
                return None
    return None


def tag_score(tag, version, implementation):
    """How well one wheel tag fits this interpreter: None = unusable, higher = better.

    Exact ``cpXY-cpXY`` beats stable-ABI ``cpXY-abi3`` (which works on X.Y and later),
    which beats pure ``py3-none``.
    """
    parts = tag.split("-")
    if len(parts) < 2:
        return None
    interp, abi = parts[0], parts[1]
    here = "%d%d" % version[:2]
    if interp.startswith("cp"):
        if implementation != "cpython":
            return None
        try:
            tagged = (int(interp[2]), int(interp[3:]))
        except ValueError:
            return None
        if abi == "abi3":
            return 2 if tagged <= tuple(version[:2]) else None
        return 3 if interp[2:] == here else None
    if interp in ("py3", "py%s" % here) and abi == "none":
        return 1
    return None


def choose_site_dir(manifest, version, implementation):
    """The site dir of the best matching wheel in the manifest, or None."""
    best = None
    for entry in manifest.get("wheels", []):
        minimum = parse_min_version(entry.get("requires_python"))
        if minimum and tuple(version[:2]) < minimum:
            continue
        scores = [tag_score(t, version, implementation) for t in entry.get("tags", [])]
        scores = [s for s in scores if s is not None]
        if not scores:
            continue
        score = max(scores)
        if best is None or score > best[0]:
            best = (score, entry["site_dir"])
    return best[1] if best else None


def main():
    here = os.path.dirname(os.path.abspath(__file__))
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
