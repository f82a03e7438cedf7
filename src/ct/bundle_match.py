"""Which wheel of a bundle's ``manifest.json`` serves a given interpreter.

One rule for ``ct`` (``ct.recorder_locate``, which asks before it starts anything) and for
``ct_bootstrap.py`` (which loads this file from beside itself in ``resources/python``), so
ct never picks a bundle the bootstrap then refuses. A wheel fits when its ``requires_python``
admits the version and one of its tags fits the interpreter: exact ``cpXY-cpXY`` beats
stable-ABI ``cpXY-abi3`` (X.Y and later), which beats pure ``py3-none``; ``cp`` tags need
CPython.

Standard library only and old syntax (no f-strings, no annotations), like the bootstrap.
"""

import re

_CLAUSE = re.compile(r"\s*(>=|<=|==|!=|<|>|~=)\s*([\d.]+)(\.\*)?\s*$")


def requires_ok(spec, version):
    """True when ``version`` satisfies a ``requires_python`` spec (``>=3.12``,
    ``>=3.12,<3.14``, ``==3.13.*``); clauses this does not understand are ignored."""
    for clause in (spec or "").split(","):
        m = _CLAUSE.match(clause)
        if not m:
            continue
        op, ver, star = m.groups()
        want = tuple(int(p) for p in ver.strip(".").split(".") if p)
        have = tuple(version[: len(want)])
        if star and op in ("==", "!="):
            ok = (have == want) == (op == "==")
        else:
            ok = {
                ">=": have >= want, "<=": have <= want, ">": have > want, "<": have < want,
                "==": have == want, "!=": have != want, "~=": have >= want,
            }[op]
        if not ok:
            return False
    return True


def tag_score(tag, version, implementation):
    """How well one wheel tag fits this interpreter: None = unusable, higher = better."""
    parts = tag.split("-")
    if len(parts) < 2:
        return None
    interp, abi = parts[0], parts[1]
    here = "%d%d" % tuple(version[:2])
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


def choose_wheel(manifest, version, implementation, usable=None):
    """The best fitting manifest entry, or None. ``usable(entry)``, when given, may reject
    an entry for other reasons (ct checks that its site dir exists)."""
    best = None
    for entry in manifest.get("wheels", []):
        if not requires_ok(entry.get("requires_python"), version):
            continue
        scores = [tag_score(t, version, implementation) for t in entry.get("tags", [])]
        scores = [s for s in scores if s is not None]
        if not scores or not entry.get("site_dir"):
            continue
        if usable is not None and not usable(entry):
            continue
        if best is None or max(scores) > best[0]:
            best = (max(scores), entry)
    return best[1] if best else None
