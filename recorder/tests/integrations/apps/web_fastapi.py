import contextlib

import shop
from codetracer_python_recorder.integrations.asgi import CodeTracerMiddleware
from fastapi import BackgroundTasks, FastAPI, Request


@contextlib.asynccontextmanager
async def lifespan(app):
    await shop.startup()
    yield


app = FastAPI(lifespan=lifespan)
app.add_middleware(CodeTracerMiddleware, exclude_paths=["/health"], max_body=4096)


@app.get("/api/items/{item_id}")
async def item(item_id: int):
    return await shop.item(item_id)


@app.get("/api/checkout/{item_id}")
async def checkout(item_id: int):
    return await shop.checkout(item_id)


@app.get("/sync/{item_id}")
def sync_item(item_id: int):
    return shop.sync_item(item_id)


@app.post("/echo")
async def echo(request: Request):
    return shop.digest(await request.body())


@app.get("/notify/{item_id}")
async def notify(item_id: int, background_tasks: BackgroundTasks):
    background_tasks.add_task(shop.notify, item_id)
    return await shop.spawn_free(item_id)


@app.get("/spawn/{item_id}")
async def spawn(item_id: int):
    return await shop.spawn(item_id)


@app.get("/health")
async def health():
    return {"ok": True}
