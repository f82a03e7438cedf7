"""A Starlette shop: ``GET /quote/{sku}?qty=N`` asks the pricing API and returns a quote.

Made by a factory (``uvicorn --factory app:create_app``); its start-up reads the catalogue
from the pricing API. CodeTracerMiddleware captures each request (with its call to the
pricing API) and the start-up's call when CODETRACER_CAPTURE_DIR is set; otherwise it does
nothing."""

import contextlib
import os
from decimal import Decimal

import httpx
from codetracer_python_recorder.integrations.asgi import CodeTracerMiddleware
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

PRICING = os.environ.get("PRICING_URL", "http://127.0.0.1:8765")


async def quote(request):
    sku = request.path_params["sku"]
    if sku not in request.app.state.catalogue:
        return JSONResponse({"error": f"unknown sku {sku}"}, status_code=404)
    qty = int(request.query_params.get("qty", "1"))
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{PRICING}/price/{sku}")
    unit = Decimal(answer.json()["price"])  # "n/a" from the API: decimal.InvalidOperation
    return JSONResponse({"sku": sku, "qty": qty, "total": str(unit * qty)})


async def health(request):
    return JSONResponse({"ok": True})


@contextlib.asynccontextmanager
async def lifespan(app):
    async with httpx.AsyncClient() as client:  # a start-up call: in the start-up capture
        app.state.catalogue = set((await client.get(f"{PRICING}/skus")).json())
    yield


def create_app() -> Starlette:
    app = Starlette(routes=[Route("/quote/{sku}", quote), Route("/health", health)],
                    lifespan=lifespan)
    app.add_middleware(CodeTracerMiddleware, exclude_paths=["/health"])
    return app
