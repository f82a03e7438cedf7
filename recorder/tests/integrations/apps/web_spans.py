"""A Starlette app recorded while uvicorn serves it: each request must be one request span in
the trace, starting at its handler's first step. No external services."""

import asyncio

from codetracer_python_recorder.integrations.asgi import CodeTracerMiddleware
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


async def item(request):
    item_id = request.path_params["item_id"]
    price = item_id * 3
    await asyncio.sleep(0.05)  # long enough for concurrent requests to overlap
    return JSONResponse({"id": item_id, "price": price})


def sync_item(request):
    """A `def` endpoint: Starlette runs it on a worker thread."""
    item_id = request.path_params["item_id"]
    return JSONResponse({"id": item_id, "sync": True})


async def missing(request):
    reason = "no such page"
    return PlainTextResponse(reason, status_code=404)


async def echo(request):
    body = await request.body()
    return PlainTextResponse(body[::-1], status_code=201)


async def boom(request):
    detail = "handler raised on purpose"
    raise RuntimeError(detail)


async def health(request):
    state = {"ok": True}
    return JSONResponse(state)


app = Starlette(routes=[
    Route("/items/{item_id:int}", item),
    Route("/sync/{item_id:int}", sync_item),
    Route("/missing", missing),
    Route("/echo", echo, methods=["POST"]),
    Route("/boom", boom),
    Route("/health", health),
])
# /health is left out of captures: it goes through the middleware's trace-only path
app.add_middleware(CodeTracerMiddleware, exclude_paths=["/health"])
