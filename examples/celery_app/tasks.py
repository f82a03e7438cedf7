"""A Celery app (Redis broker) whose task reads a stock count from Redis and a price from an
HTTP pricing API (``../starlette_app/upstream.py``), then computes the stock's value.

enable_celery writes one capture per task run when CODETRACER_CAPTURE_DIR is set."""

import json
import os
import urllib.request
from decimal import Decimal

import redis
from celery import Celery
from codetracer_python_recorder.integrations.celery import enable_celery

BROKER = os.environ.get("BROKER_URL", "redis://127.0.0.1:6379/0")
PRICING = os.environ.get("PRICING_URL", "http://127.0.0.1:8765")

app = Celery("tasks", broker=BROKER, backend=BROKER)
app.conf.update(broker_connection_retry_on_startup=True)
enable_celery(app)
store = redis.Redis.from_url(BROKER, decode_responses=True)


@app.task(name="tasks.stock_value")
def stock_value(sku):
    count = int(store.get(f"stock:{sku}") or 0)
    with urllib.request.urlopen(f"{PRICING}/price/{sku}") as answer:
        price = json.loads(answer.read())["price"]
    value = Decimal(price) * count  # "n/a" from the API: decimal.InvalidOperation
    return {"sku": sku, "count": count, "value": str(value)}
