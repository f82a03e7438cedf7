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


async def item(item_id: int) -> dict:
    name = await aredis.get(f"item:{item_id}")
    await asyncio.sleep(random.random() * 0.02)  # interleave concurrent requests
    async with httpx.AsyncClient() as client:
        upstream = (await client.get(f"{UPSTREAM}/json?q=item-{item_id}")).json()
    await aredis.incr(f"views:{item_id}")
    return {"item": item_id, "name": name, "upstream": upstream["query"]}


async def checkout(item_id: int) -> dict:
    name = await aredis.get(f"item:{item_id}")
    price = await aredis.get(f"price:{item_id}")
    cents = int(price) * 100  # fails for a price that is not a whole number
    return {"item": item_id, "name": name, "cents": cents}


def sync_item(item_id: int) -> dict:
    return {"item": item_id, "name": sredis.get(f"item:{item_id}")}


def digest(body: bytes) -> dict:
    return {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
