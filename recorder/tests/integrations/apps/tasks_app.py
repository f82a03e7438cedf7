"""A Celery app whose tasks read PostgreSQL and an HTTP API (the integration tests' worker)."""

import json
import os
import urllib.request

import psycopg
from celery import Celery, signals
from codetracer_python_recorder.integrations.celery import enable_celery

BROKER = os.environ.get("BROKER_URL", "redis://127.0.0.1:9/0")
DSN = os.environ.get("DSN", "host=127.0.0.1 port=9 user=postgres dbname=postgres")
UPSTREAM = os.environ.get("UPSTREAM", "http://127.0.0.1:9")

app = Celery("tasks_app", broker=BROKER, backend=BROKER)
app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"],
                broker_connection_retry_on_startup=True, worker_hijack_root_logger=False)
enable_celery(app)


CONFIG: dict = {}


@signals.worker_init.connect
def init_worker(**_):
    """The worker reads a setting when it starts, before any pool process: a call of no task
    run, made in the process ``celery worker`` starts."""
    with urllib.request.urlopen(f"{UPSTREAM}/json?q=boot") as answer:
        CONFIG["boot"] = json.loads(answer.read())["query"]


@signals.worker_process_init.connect
def init_pool_process(**_):
    """Each pool process reads a setting when it starts: a call of no task run."""
    with urllib.request.urlopen(f"{UPSTREAM}/json?q=init") as answer:
        CONFIG["init"] = json.loads(answer.read())["query"]


def make_app():
    """A factory, for ``ct replay-task --app tasks_app:make_app --factory``."""
    return app


@app.task(bind=True, name="tasks_app.invoice_total")
def invoice_total(self, order_id, currency="EUR"):
    with psycopg.connect(DSN) as conn:
        rows = conn.execute("SELECT qty, unit_price FROM lines WHERE order_id = %s ORDER BY id",
                            (order_id,)).fetchall()
    with urllib.request.urlopen(f"{UPSTREAM}/json?q=rate-{currency}") as answer:
        rate = json.loads(answer.read())
    total = 0
    for qty, price in rows:
        total += qty * price
    return {"order": order_id, "total": str(total), "lines": len(rows),
            "rate": rate["query"], "attempt": self.request.retries,
            "init": CONFIG.get("init"), "boot": CONFIG.get("boot")}


@app.task(name="tasks_app.booted")
def booted():
    """What the worker's start-up read (threads and solo pools: no pool process start-up)."""
    return CONFIG.get("boot")


@app.task(name="tasks_app.lookup")
def lookup(key):
    """Two HTTP calls; the server answers concurrent ones in reverse arrival order."""
    with urllib.request.urlopen(f"{UPSTREAM}/slow?q={key}") as answer:
        first = json.loads(answer.read())["query"]
    with urllib.request.urlopen(f"{UPSTREAM}/json?q={key}-again") as answer:
        return [first, json.loads(answer.read())["query"]]


@app.task(bind=True, name="tasks_app.flaky_fetch", max_retries=2)
def flaky_fetch(self, key):
    with urllib.request.urlopen(f"{UPSTREAM}/counter?key={key}") as answer:
        n = json.loads(answer.read())["n"]
    if n % 2 == 1:  # the first attempt sees an odd counter
        raise self.retry(exc=RuntimeError(f"odd counter {n}"), countdown=0)
    return {"key": key, "n": n, "attempt": self.request.retries}
