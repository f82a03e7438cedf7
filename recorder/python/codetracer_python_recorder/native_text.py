"""Text for the native module, which takes ``str`` as UTF-8: a path that is not valid UTF-8
(a directory named with Latin-1 bytes, say) reaches Python as ``str`` with lone surrogates
(``\\udcff``), which UTF-8 cannot carry. Such text is passed with each surrogate written out
as the six characters ``\\udcff`` — exactly how Python prints that name in a traceback
(``backslashreplace``), so the trace shows the name as Python shows it."""

from __future__ import annotations


def native_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def native_value(value):
    """``native_text`` applied to a string, or to each string of a list/tuple/dict value."""
    if isinstance(value, str):
        return native_text(value)
    if isinstance(value, (list, tuple)):
        return type(value)(native_value(v) for v in value)
    if isinstance(value, dict):
        return {k: native_value(v) for k, v in value.items()}
    return value
