"""The handlers both test web apps serve: Redis and an upstream HTTP API per request."""

import asyncio
import hashlib
import os
import random

import httpx
import redis
import redis.asyncio

UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:9/0")
aredis = redis.asyncio.Redis.from_url(REDIS_URL, decode_responses=True)
sredis = redis.Redis.from_url(REDIS_URL, decode_responses=True)
settings: dict = {}


async def startup() -> None:
    """The lifespan start-up reads a setting: a call that belongs to no request."""
    settings["currency"] = await aredis.get("config:currency")


async def item(item_id: int) -> dict:
    name = await aredis.get(f"item:{item_id}")
    await asyncio.sleep(random.random() * 0.02)  # interleave concurrent requests
    async with httpx.AsyncClient() as client:
        upstream = (await client.get(f"{UPSTREAM}/json?q=item-{item_id}")).json()
    await aredis.incr(f"views:{item_id}")
    return {"item": item_id, "name": name, "upstream": upstream["query"],
            "currency": settings.get("currency")}


async def checkout(item_id: int) -> dict:
    name = await aredis.get(f"item:{item_id}")
    price = await aredis.get(f"price:{item_id}")
    cents = int(price) * 100  # fails for a price that is not a whole number
    return {"item": item_id, "name": name, "cents": cents}


async def spawn_free(item_id: int) -> dict:
    return {"item": item_id, "name": await aredis.get(f"item:{item_id}")}


async def spawn(item_id: int) -> dict:
    """Answers at once; a task it does not wait for makes a call after the response."""
    name = await aredis.get(f"item:{item_id}")
    _background.add(asyncio.get_running_loop().create_task(_late(item_id)))
    return {"item": item_id, "name": name}


_background: set = set()


async def notify(item_id: int) -> None:
    """Run as the response's background task (Starlette's BackgroundTask)."""
    await aredis.incr(f"notified:{item_id}")


async def _late(item_id: int) -> None:
    await asyncio.sleep(0.1)
    await aredis.incr(f"late:{item_id}")


def sync_item(item_id: int) -> dict:
    return {"item": item_id, "name": sredis.get(f"item:{item_id}")}


def digest(body: bytes) -> dict:
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
