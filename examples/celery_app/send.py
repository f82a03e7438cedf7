"""Stocks Redis and queues one task per product; prints each outcome."""

import redis
from tasks import BROKER, stock_value

redis.Redis.from_url(BROKER).mset({"stock:widget": 40, "stock:gizmo": 7})
for sku in ("widget", "gizmo"):
    result = stock_value.delay(sku)
    result.get(timeout=30, propagate=False)
    print(sku, result.state, result.result)
