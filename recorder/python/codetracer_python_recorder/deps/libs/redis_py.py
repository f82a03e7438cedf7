"""redis-py, sync and asyncio: commands (``Redis.execute_command``) and pipelines
(``Pipeline.execute``, transactions included).

Key: the command and its arguments (``SET user:1 alice``); a pipeline is one call keyed by its
commands (``PIPELINE GET a | INCR n``). The commands a pipeline runs at once while it watches
keys (``WATCH``, the reads before ``multi()``: optimistic locking, ``Redis.transaction``) are
calls of their own, and a replay keeps the pipeline's watching state as redis-py would. The reply is recorded after redis-py's response
callbacks, so replay returns exactly what the program saw. Replay opens no connection (redis-py
connects lazily, inside the patched calls); a miss raises ``redis.exceptions.ConnectionError``.
``AUTH`` arguments and values of secret-named keys are masked.
"""

from __future__ import annotations

import functools
import sys

from .. import exceptions, masking, state, store

CATEGORY = "redis"
LIBRARY = "redis-py"
_SECRET_COMMANDS = {"AUTH", "HELLO", "MIGRATE"}
#: Redis's own secret settings, whose names hold no secret word of ``masking``'s
_SECRET_SETTINGS = {"requirepass", "masterauth", "tls-key-file-pass", "tls-client-key-file-pass"}


def _secret_setting(name) -> bool:
    if isinstance(name, bytes):
        name = name.decode("utf-8", "replace")
    return isinstance(name, str) and (name.lower() in _SECRET_SETTINGS
                                      or masking.is_secret_key(name))


def _text(arg) -> str:
    """An argument as key text; one over 100 bytes as its head and digest (keys stay
    short)."""
    if isinstance(arg, bytes):
        if len(arg) <= 100:
            return arg.decode("utf-8", "backslashreplace")
        raw = arg
    else:
        text = str(arg)
        if len(text) <= 100 and text.isascii():  # one byte a character: short (most args)
            return text
        raw = text.encode()
        if len(raw) <= 100:
            return text
    import hashlib

    head = raw[:24].decode("utf-8", "backslashreplace")
    return f"{head}...<{len(raw)} bytes sha256:{hashlib.sha256(raw).hexdigest()[:16]}>"


def _command_key(args) -> str:
    words = [_text(a) for a in args]
    if not words:
        return ""
    # redis-py sends some commands with their subcommand as one argument ("CONFIG SET")
    words[:1] = words[0].upper().split(" ") if " " in words[0] else [words[0].upper()]
    name = words[0]
    if name in _SECRET_COMMANDS and len(words) > 1:
        words[1:] = [masking.MASK] * (len(words) - 1)
    elif name == "CONFIG" and len(words) > 3 and words[1].upper() == "SET":
        for i in range(2, len(words) - 1, 2):  # CONFIG SET name value [name value ...]
            if _secret_setting(words[i]):
                words[i + 1] = masking.MASK
    return " ".join(words)


def _target(client) -> str:
    try:  # not two getattr with defaults: this runs on every recorded command
        kwargs = client.connection_pool.connection_kwargs or {}
    except AttributeError:
        kwargs = {}
    path = kwargs.get("path")
    if path:
        return f"unix:{path}"
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def _miss_error(client, key):
    exceptions = sys.modules["redis.exceptions"]
    return lambda: exceptions.ConnectionError(
        f"Error 111 connecting to {_target(client)}. Connection refused. "
        f"(codetracer replay has no recorded {key})")


def _summary(key: str, reply) -> str:
    return f"{key} -> {_short(reply)}"


class _LazyKey:
    """Record mode: the key is built by the writer thread (``record`` module), once."""

    __slots__ = ("_args", "_key")

    def __init__(self, args) -> None:
        self._args, self._key = args, None

    def key(self) -> str:
        if self._key is None:
            self._key = _command_key(self._args)
        return self._key

    def match(self) -> dict:
        return {"command": self.key()}

    def summary(self, reply) -> str:
        return _summary(self.key(), reply)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _replies(replies):
    """A pipeline's replies; with ``raise_on_error=False`` an error is a reply (kept as the
    recorded error, so a replay hands back the same exception object's class and message)."""
    if isinstance(replies, list) and any(isinstance(r, BaseException) for r in replies):
        replies = [{"$redis_error": exceptions.describe(r)} if isinstance(r, BaseException)
                   else r for r in replies]
    return store.snapshot(replies)


def _config_reply(reply):
    """``CONFIG GET``'s reply with the values of secret settings masked."""
    if isinstance(reply, dict):
        reply = {k: masking.MASK if _secret_setting(k) else v for k, v in reply.items()}
    return store.snapshot(reply)


def _to_record(args):
    """What a command's reply is recorded as: ``CONFIG`` replies masked, others snapshotted."""
    first = args[0] if args else None
    if isinstance(first, bytes):
        first = first.decode("latin-1")
    return _config_reply if isinstance(first, str) and first[:6].upper() == "CONFIG" else None


def _from_replies(replies):
    if isinstance(replies, list):
        return [exceptions.rebuild(r["$redis_error"])
                if isinstance(r, dict) and list(r) == ["$redis_error"] else r for r in replies]
    return replies


def _pipeline_key(pipe) -> str:
    kind = "MULTI" if getattr(pipe, "transaction", getattr(pipe, "is_transaction", False)) \
        else "PIPELINE"
    return f"{kind} " + " | ".join(_command_key(args) for args, _options in pipe.command_stack)


def patch(module) -> None:
    if module.__name__ == "redis.client":
        _patch_sync(module)
    elif module.__name__ == "redis.asyncio.client":
        _patch_async(module)


def _sync_command(orig, watching: bool = False):
    """``orig`` (``Redis.execute_command``, a pipeline's ``immediate_execute_command``)
    captured or replayed; ``watching``: a replay keeps the pipeline's watching state."""

    def command(self, *args, **options):
        engine = state.engine
        if engine is None:
            return orig(self, *args, **options)
        live = lambda: orig(self, *args, **options)  # noqa: E731
        if engine.mode == "record":
            lazy = _LazyKey(args)
            return engine.call(CATEGORY, LIBRARY, lazy.key, live, request={"target": _target(self)},
                               match=lazy.match, summarize=lazy.summary,
                               to_record=_to_record(args))
        key = _command_key(args)
        value = engine.call(CATEGORY, LIBRARY, key, live, match={"command": key},
                            miss_error=_miss_error(self, key))
        if watching:
            _watching(self, args)
        return value

    return command


def _async_command(orig, watching: bool = False):
    """``_sync_command`` for redis.asyncio."""

    async def command(self, *args, **options):
        engine = state.engine
        if engine is None:
            return await orig(self, *args, **options)
        live = lambda: orig(self, *args, **options)  # noqa: E731
        if engine.mode == "record":
            lazy = _LazyKey(args)
            return await engine.acall(CATEGORY, LIBRARY, lazy.key, live,
                                      request={"target": _target(self)}, match=lazy.match,
                                      summarize=lazy.summary, to_record=_to_record(args))
        key = _command_key(args)
        value = await engine.acall(CATEGORY, LIBRARY, key, live, match={"command": key},
                                   miss_error=_miss_error(self, key))
        if watching:
            _watching(self, args)
        return value

    return command


def _patch_sync(module) -> None:
    redis_cls, pipeline_cls = module.Redis, module.Pipeline
    if getattr(redis_cls, "_ct_deps_patched", False):
        return
    orig_execute = pipeline_cls.execute

    def execute(self, raise_on_error=True):
        engine = state.engine
        if engine is None or not self.command_stack:
            return orig_execute(self, raise_on_error)
        key = _pipeline_key(self)
        if engine.mode == "record":
            return engine.call(CATEGORY, LIBRARY, key, lambda: orig_execute(self, raise_on_error),
                               request={"target": _target(self)}, match={"command": key},
                               to_record=_replies, summarize=functools.partial(_summary, key))
        try:
            return engine.call(CATEGORY, LIBRARY, key,
                               lambda: orig_execute(self, raise_on_error),
                               match={"command": key}, miss_error=_miss_error(self, key),
                               from_record=_from_replies)
        finally:
            if self.command_stack:
                self.reset()

    orig_parse = redis_cls.parse_response

    def parse_response(self, connection, command_name, **options):
        engine = state.engine
        if engine is not None and engine.mode == "record":
            engine.idle()  # the command is on its way: write queued records meanwhile
        return orig_parse(self, connection, command_name, **options)

    redis_cls.parse_response = parse_response
    redis_cls.execute_command = _sync_command(redis_cls.execute_command)
    pipeline_cls.immediate_execute_command = _sync_command(
        pipeline_cls.immediate_execute_command, watching=True)
    pipeline_cls.execute = execute
    redis_cls._ct_deps_patched = True


def _watching(pipe, args) -> None:
    """Replay: the pipeline's watching state after an answered command, as redis-py's
    ``Pipeline.parse_response`` sets it after a real one."""
    name = _text(args[0]).upper() if args else ""
    if name == "WATCH":
        pipe.watching = True
    elif name in pipe.UNWATCH_COMMANDS:
        pipe.watching = False


def _patch_async(module) -> None:
    redis_cls, pipeline_cls = module.Redis, module.Pipeline
    if getattr(redis_cls, "_ct_deps_patched", False):
        return
    orig_execute = pipeline_cls.execute

    async def execute(self, raise_on_error=True):
        engine = state.engine
        if engine is None or not self.command_stack:
            return await orig_execute(self, raise_on_error)
        key = _pipeline_key(self)
        if engine.mode == "record":
            return await engine.acall(
                CATEGORY, LIBRARY, key, lambda: orig_execute(self, raise_on_error),
                request={"target": _target(self)}, match={"command": key},
                to_record=_replies, summarize=functools.partial(_summary, key))
        try:
            return await engine.acall(CATEGORY, LIBRARY, key,
                                      lambda: orig_execute(self, raise_on_error),
                                      match={"command": key}, miss_error=_miss_error(self, key),
                                      from_record=_from_replies)
        finally:
            if self.command_stack:
                await self.reset()

    redis_cls.execute_command = _async_command(redis_cls.execute_command)
    pipeline_cls.immediate_execute_command = _async_command(
        pipeline_cls.immediate_execute_command, watching=True)
    pipeline_cls.execute = execute
    redis_cls._ct_deps_patched = True
