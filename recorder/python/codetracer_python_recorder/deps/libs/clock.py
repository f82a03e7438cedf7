"""The ``clock`` category (off unless ``--deps record,clock``): what makes a run differ from
the last one even with the same answers from its services.

``time.time``/``time.time_ns``, ``datetime.datetime.now``/``utcnow``/``today`` and
``datetime.date.today`` (through a subclass put in place of ``datetime.datetime`` and
``datetime.date``, so code importing them after capture starts gets it), ``uuid.uuid4`` and
``os.urandom`` are recorded call by call; the module-level ``random`` functions are seeded from
a recorded seed, so they repeat without a record per call. A replay answers these from the
capture in order and uses the real clock once the recorded values run out (no miss line: a
re-run may well read the clock more often).
"""

from __future__ import annotations

import datetime as _dt
import os
import random
import threading
import time
import uuid

from .. import state

CATEGORY = "clock"
LIBRARY = "clock"
_real = {"time": time.time, "time_ns": time.time_ns, "urandom": os.urandom,
         "uuid4": uuid.uuid4, "datetime": _dt.datetime, "date": _dt.date}


_inside = threading.local()


def _value(key: str, live):
    engine = state.engine
    if engine is None or getattr(_inside, "busy", False):
        return live()  # uuid4 reads os.urandom: one record, not two
    _inside.busy = True
    try:
        if engine.mode == "record":
            return engine.call(CATEGORY, LIBRARY, key, live)
        record = engine.answer(CATEGORY, key, None, quiet=True)
        return live() if record is None else engine.result(record)
    finally:
        _inside.busy = False


def _time() -> float:
    return _value("time.time", _real["time"])


def _time_ns() -> int:
    return _value("time.time_ns", _real["time_ns"])


def _urandom(n: int) -> bytes:
    return _value(f"os.urandom {n}", lambda: _real["urandom"](n))


def _uuid4():
    return uuid.UUID(_value("uuid.uuid4", lambda: str(_real["uuid4"]())))


class datetime(_dt.datetime):  # noqa: N801 - stands in for datetime.datetime
    @classmethod
    def now(cls, tz=None):
        return _dt.datetime.fromtimestamp(_time(), tz)

    @classmethod
    def utcnow(cls):
        return _dt.datetime.fromtimestamp(_time(), _dt.UTC).replace(tzinfo=None)

    @classmethod
    def today(cls):
        return _dt.datetime.fromtimestamp(_time())


class date(_dt.date):  # noqa: N801 - stands in for datetime.date
    @classmethod
    def today(cls):
        return _dt.date.fromtimestamp(_time())


def install(engine, seed: int | None) -> int:
    """Patches the clock sources; returns the ``random`` seed used (recorded in the header)."""
    if seed is None:
        seed = int.from_bytes(_real["urandom"](8), "big")
    random.seed(seed)
    time.time, time.time_ns, os.urandom, uuid.uuid4 = _time, _time_ns, _urandom, _uuid4
    _dt.datetime, _dt.date = datetime, date
    return seed


def uninstall() -> None:
    time.time, time.time_ns = _real["time"], _real["time_ns"]
    os.urandom, uuid.uuid4 = _real["urandom"], _real["uuid4"]
    _dt.datetime, _dt.date = _real["datetime"], _real["date"]
