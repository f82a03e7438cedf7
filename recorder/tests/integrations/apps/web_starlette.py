import shop
from codetracer_python_recorder.integrations.asgi import CodeTracerMiddleware
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route


async def item(request):
    return JSONResponse(await shop.item(request.path_params["item_id"]))


async def checkout(request):
    return JSONResponse(await shop.checkout(request.path_params["item_id"]))


def sync_item(request):
    return JSONResponse(shop.sync_item(request.path_params["item_id"]))


async def echo(request):
    return JSONResponse(shop.digest(await request.body()))


async def health(request):
    return JSONResponse({"ok": True})


app = Starlette(routes=[
    Mount("/api", routes=[Route("/items/{item_id:int}", item),
                          Route("/checkout/{item_id:int}", checkout)]),
    Route("/sync/{item_id:int}", sync_item),
    Route("/echo", echo, methods=["POST"]),
    Route("/health", health),
])
app.add_middleware(CodeTracerMiddleware, exclude_paths=["/health"], max_body=4096)
