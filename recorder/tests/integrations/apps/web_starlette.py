import contextlib

import shop
from codetracer_python_recorder.integrations.asgi import CodeTracerMiddleware
from starlette.applications import Starlette
from starlette.background import BackgroundTask
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


async def notify(request):
    item_id = request.path_params["item_id"]
    return JSONResponse(await shop.spawn_free(item_id),
                        background=BackgroundTask(shop.notify, item_id))


async def spawn(request):
    return JSONResponse(await shop.spawn(request.path_params["item_id"]))


@contextlib.asynccontextmanager
async def lifespan(app):
    await shop.startup()
    yield


async def health(request):
    return JSONResponse({"ok": True})


def create_app() -> Starlette:
    """The app factory (``uvicorn --factory web_starlette:create_app``)."""
    made = Starlette(routes=[
        Mount("/api", routes=[Route("/items/{item_id:int}", item),
                              Route("/checkout/{item_id:int}", checkout)]),
        Route("/sync/{item_id:int}", sync_item),
        Route("/echo", echo, methods=["POST"]),
        Route("/spawn/{item_id:int}", spawn),
        Route("/notify/{item_id:int}", notify),
        Route("/health", health),
    ], lifespan=lifespan)
    made.add_middleware(CodeTracerMiddleware, exclude_paths=["/health"], max_body=4096)
    return made


N_ITEMS = 30


def broken_factory():
    raise RuntimeError("no settings file")


app = create_app()
