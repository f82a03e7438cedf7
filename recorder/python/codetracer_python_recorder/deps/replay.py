"""Replay mode: answer each call from a capture, with no traffic to the service.

A miss (no recorded call with this key left) prints one line on stderr naming the call, the
closest recorded candidates and the fields that differ, then raises the library's own error
for an unreachable service, so the program's error handling runs as in production. With
``--deps-miss live`` a miss goes to the real service instead. Recorded errors are raised again
as the same class with the same message. At exit, unused recorded calls are listed.
"""

from __future__ import annotations

import sys

from . import context, events, exceptions, matching, store

PREFIX = "codetracer deps"


class Miss(Exception):
    """Internal: no recorded answer and misses are errors."""


class Replayer:
    mode = "replay"

    def __init__(self, records: list[dict], *, miss: str = "error", source: str = "") -> None:
        self.index = matching.Index(records)
        self.spare: matching.Index | None = None  # a forked child's siblings' calls
        self.miss = miss
        self.source = source
        self.misses = 0
        self.hits = 0

    def forked(self, own: list[dict], siblings: list[dict]) -> None:
        """In a forked child (``fork``): answer from the child's own capture, then from its
        siblings' (a pool gives tasks to whichever worker is free)."""
        self.index = matching.Index(own)
        self.spare = matching.Index(siblings) if siblings else None
        self.misses = self.hits = 0

    def take(self, category: str, key: str, lane: str) -> dict | None:
        """The recorded call answering this one (own capture first), or ``None``."""
        record = self.index.take(category, key, lane)
        if record is None and self.spare is not None:
            record = self.spare.take(category, key, lane)
        return record

    def answer(self, category: str, key: str, match: dict | None = None, *,
               quiet: bool = False) -> dict | None:
        """The record for this call; ``None`` means: go live (``--deps-miss live``). On a miss
        that is an error, reports it and raises :class:`Miss` (the library turns it into its
        own unreachable error)."""
        lane = matching.lane_of(context.thread_name(), context.task_name())
        record = self.take(category, key, lane)
        if record is not None:
            self.hits += 1
            return record
        if quiet:  # the caller goes live without a word (the clock)
            return None
        self.misses += 1
        self._report_miss(category, key, match or {})
        if self.miss == "live":
            return None
        raise Miss(key)

    def _report_miss(self, category: str, key: str, match: dict) -> None:
        fields = {"_key": key, **match}
        candidates = self.index.closest(category, fields)
        if candidates:
            shown = "; ".join(
                f"{r['key']} (seq {r['seq']}, {r.get('site', '?')}"
                f"{', already used' if r['seq'] in self.index.used else ''}; differs: "
                f"{', '.join(d for d in differ if d != '_key') or 'nothing'})"
                for r, differ in candidates
            )
        else:
            shown = f"none (the capture has no unused {category} calls)"
        then = "sending it to the service (--deps-miss live)" if self.miss == "live" else (
            "raising the library's connection error (--deps-miss live sends misses to the service)"
        )
        sys.stderr.write(
            f"{PREFIX}: replay miss: {category} {key} at {context.call_site()}; "
            f"closest recorded: {shown}; {then}\n"
        )
        sys.stderr.flush()

    def result(self, record: dict):
        """The recorded value, or the recorded exception raised again."""
        events.emit(record["category"], f"{record['key']} (replayed)")
        if "error" in record:
            raise exceptions.rebuild(record["error"])
        return store.decode(record.get("result"))

    def call(self, category, library, key, live, *, match=None, miss_error=None,
             from_record=None, **_record_only):
        try:
            record = self.answer(category, key, match)
        except Miss:
            raise (miss_error() if miss_error else ConnectionRefusedError(
                111, f"Connection refused (codetracer replay has no recorded {key})")) from None
        if record is None:
            return live()
        value = self.result(record)
        return from_record(value) if from_record else value

    async def acall(self, category, library, key, live, *, match=None, miss_error=None,
                    from_record=None, **_record_only):
        try:
            record = self.answer(category, key, match)
        except Miss:
            raise (miss_error() if miss_error else ConnectionRefusedError(
                111, f"Connection refused (codetracer replay has no recorded {key})")) from None
        if record is None:
            return await live()
        value = self.result(record)
        return from_record(value) if from_record else value

    def finish(self, exit_status: int | None) -> None:
        unused = [r for r in self.index.unused() if r["category"] != "clock"]
        if not unused:
            return
        sys.stderr.write(f"{PREFIX}: {len(unused)} recorded call(s) were not used in this replay:\n")
        for r in unused[:20]:
            sys.stderr.write(f"  seq {r['seq']} {r['category']} {r['key']} ({r.get('site', '?')})\n")
        if len(unused) > 20:
            sys.stderr.write(f"  ... and {len(unused) - 20} more\n")
        sys.stderr.flush()
