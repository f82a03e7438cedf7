"""Secrets are masked when a call is recorded, so they never reach the capture file.

Headers are masked by exact name; keys (query parameters, JSON and form fields, connection
options) by whole words: ``api_key``, ``apiKey``, ``X-Auth-Token`` and ``password`` are
masked, ``message``, ``usage``, ``company`` and ``tokens_used`` are not (a substring rule
would mask ``message`` for ``age`` and ``tokens_used`` for ``token``). Replay masks the live
call the same way before matching, so masked calls still match.
"""

from __future__ import annotations

import functools
import re

MASK = "<masked>"

SECRET_HEADERS = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key",
    "x-auth-token", "x-amz-security-token", "x-goog-api-key",
})
SECRET_WORDS = frozenset({
    "password", "passwd", "pwd", "secret", "token", "authorization", "apikey", "credential",
    "credentials", "passphrase", "signature", "sessionid", "cookie",
})
#: two-word secrets, as adjacent words of a key
SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"),
                          ("session", "id"), ("client", "secret")})

_WORDS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(key: str) -> list[str]:
    """``X-Api-Key`` / ``apiKey`` / ``api_key`` -> ``['x', 'api', 'key']`` style word lists."""
    return [w.lower() for w in _WORDS.findall(key)]


@functools.lru_cache(maxsize=4096)
def _secret_name(key: str) -> bool:
    parts = words(key)
    if any(w in SECRET_WORDS for w in parts):
        return True
    return any(pair in SECRET_PAIRS for pair in zip(parts, parts[1:], strict=False))


def is_secret_key(key) -> bool:
    return isinstance(key, str) and _secret_name(key)


def configure(environ) -> None:
    """Extra secrets from ``CODETRACER_DEPS_MASK_HEADERS`` (exact header names) and
    ``CODETRACER_DEPS_MASK_WORDS`` (key words), both comma-separated."""
    global SECRET_HEADERS, SECRET_WORDS
    headers = [h.strip().lower() for h in environ.get("CODETRACER_DEPS_MASK_HEADERS", "").split(",")]
    extra = [w.strip().lower() for w in environ.get("CODETRACER_DEPS_MASK_WORDS", "").split(",")]
    SECRET_HEADERS = SECRET_HEADERS | {h for h in headers if h}
    SECRET_WORDS = SECRET_WORDS | {w for w in extra if w}
    _secret_name.cache_clear()


def is_secret_header(name: str) -> bool:
    return name.lower() in SECRET_HEADERS or is_secret_key(name)


class _HeaderVerdicts(dict):
    """Header name -> whether its value is masked, decided once per name (names repeat on
    every call; a lookup here is one dict probe instead of ``lower`` and a cached call)."""

    __slots__ = ("rules",)

    def __missing__(self, name: str) -> bool:
        if len(self) >= 4096:  # a server inventing names must not grow it without bound
            self.clear()
        secret = self[name] = is_secret_header(name)
        return secret


_verdicts = _HeaderVerdicts()
_verdicts.rules = None


def _header_verdicts() -> _HeaderVerdicts:
    """The verdicts for the current rule sets: ``configure``, the ``[deps]`` config and tests
    replace the sets, so a change of any of them starts over (with ``_secret_name``'s)."""
    global _verdicts
    rules = _verdicts.rules
    if (rules is None or rules[0] is not SECRET_HEADERS or rules[1] is not SECRET_WORDS
            or rules[2] is not SECRET_PAIRS):
        _secret_name.cache_clear()
        _verdicts = _HeaderVerdicts()
        _verdicts.rules = (SECRET_HEADERS, SECRET_WORDS, SECRET_PAIRS)
    return _verdicts


def headers(pairs):
    """[(name, value), ...] with secret values replaced."""
    secret = _header_verdicts()
    return [(k, MASK if secret[k] else v) for k, v in pairs]


def header_lists(pairs) -> list[list]:
    """``headers`` as [[name, value], ...], the recorded form."""
    secret = _header_verdicts()
    return [[k, MASK if secret[k] else v] for k, v in pairs]


def mapping(value):
    """A JSON-like structure with the values of secret keys replaced, recursively."""
    if isinstance(value, dict):
        return {k: (MASK if is_secret_key(k) else mapping(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [mapping(v) for v in value]
    return value


def query(query_string: str) -> str:
    """``a=1&api_key=x`` -> ``a=1&api_key=<masked>`` (order kept, nothing re-encoded)."""
    if not query_string:
        return query_string
    out = []
    for part in query_string.split("&"):
        name, eq, _ = part.partition("=")
        out.append(f"{name}={MASK}" if eq and is_secret_key(name) else part)
    return "&".join(out)
