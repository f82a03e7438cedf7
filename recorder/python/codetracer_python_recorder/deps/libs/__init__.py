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
