"""A Starlette shop: ``GET /quote/{sku}?qty=N`` asks the pricing API and returns a quote.

CodeTracerMiddleware captures each request (with its call to the pricing API) when
CODETRACER_CAPTURE_DIR is set; otherwise it does nothing."""

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
    qty = int(request.query_params.get("qty", "1"))
    async with httpx.AsyncClient() as client:
        answer = await client.get(f"{PRICING}/price/{sku}")
    if answer.status_code == 404:
        return JSONResponse({"error": f"unknown sku {sku}"}, status_code=404)
    unit = Decimal(answer.json()["price"])  # "n/a" from the API: decimal.InvalidOperation
    return JSONResponse({"sku": sku, "qty": qty, "total": str(unit * qty)})


async def health(request):
    return JSONResponse({"ok": True})


app = Starlette(routes=[Route("/quote/{sku}", quote), Route("/health", health)])
app.add_middleware(CodeTracerMiddleware, exclude_paths=["/health"])
