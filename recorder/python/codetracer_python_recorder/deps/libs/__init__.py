"""One module per library. ``PATCHES`` maps the module whose import triggers a patch to
``(library module, category)``; a library module's ``patch(module)`` patches that module."""

PATCHES = {
    "http.client": ("http_client", "http"),
    "urllib3.connection": ("http_client", "http"),
    "redis.client": ("redis_py", "redis"),
    "redis.asyncio.client": ("redis_py", "redis"),
    "psycopg": ("psycopg", "sql"),
    "httpx": ("httpx", "http"),
    "asyncpg": ("asyncpg", "sql"),
    "aiohttp.client": ("aiohttp", "http"),
    "pymongo": ("pymongo", "mongo"),
}


def finish_streams() -> None:
    """Records the streamed responses and named cursors still open when a capture ends (a
    library module with such streams has ``finish_streams``; only modules already loaded are
    asked)."""
    import sys

    for lib in {lib for lib, _category in PATCHES.values()}:
        module = sys.modules.get(f"{__name__}.{lib}")
        if module is not None and hasattr(module, "finish_streams"):
            module.finish_streams()


def forget_streams() -> None:
    """In a forked child: the streams its parent had open are the parent's to record."""
    import sys

    for lib in {lib for lib, _category in PATCHES.values()}:
        module = sys.modules.get(f"{__name__}.{lib}")
        if module is not None and hasattr(module, "forget_streams"):
            module.forget_streams()
