"""Which recorded call answers a live call during replay.

Calls are matched by key (``GET http://host/path?q``, ``redis GET k``, SQL text + params),
never by position: each key has a FIFO queue in start order (``seq``), so an extra or missing
call elsewhere derails nothing. Within a queue a call first takes the oldest record made by
the same thread or asyncio task (names are deterministic for a re-run), then the oldest of any.
"""

from __future__ import annotations

import difflib
import threading


class Index:
    """Recorded calls grouped by (category, key), each group in start order."""

    def __init__(self, records: list[dict]) -> None:
        self._queues: dict[tuple[str, str], list[dict]] = {}
        self._lock = threading.Lock()
        self.records = records
        self.used: set[int] = set()
        for record in records:  # already sorted by seq
            self._queues.setdefault((record["category"], record["key"]), []).append(record)

    def take(self, category: str, key: str, lane: str) -> dict | None:
        """Removes and returns the record answering this call, or ``None`` (a miss)."""
        with self._lock:
            queue = self._queues.get((category, key))
            if not queue:
                return None
            i = next((n for n, r in enumerate(queue) if _lane(r) == lane), 0)
            record = queue.pop(i)
            self.used.add(record["seq"])
            return record

    def unused(self) -> list[dict]:
        with self._lock:
            left = [r for q in self._queues.values() for r in q]
        return sorted(left, key=lambda r: r["seq"])

    def closest(self, category: str, fields: dict, limit: int = 2) -> list[tuple[dict, list[str]]]:
        """Recorded calls of the category most like ``fields`` (unused ones first among equals),
        with the fields that differ."""
        scored = []
        for record in self.records:
            if record["category"] != category or not record.get("match"):
                continue
            theirs = record.get("match") or {}
            differ = [name for name in fields if theirs.get(name) != fields[name]]
            similarity = difflib.SequenceMatcher(None, record["key"], fields.get("_key", "")).ratio()
            used = record["seq"] in self.used
            scored.append((len(differ), -similarity, used, record["seq"], record, differ))
        scored.sort(key=lambda t: t[:4])
        return [(t[4], t[5]) for t in scored[:limit]]


def _lane(record: dict) -> str:
    return record.get("task") or record.get("thread") or ""


def lane_of(thread: str, task: str | None) -> str:
    return task or thread
