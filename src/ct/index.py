"""The trace index: ``trace_index.db`` (sqlite, WAL) in the data dir, one row per recording.

Safety rules, because the index is the only way users find traces again:

* WAL + ``busy_timeout`` + ``BEGIN IMMEDIATE`` for every write, so concurrent ``ct record``
  processes queue instead of failing; 8 at once all land.
* The schema is versioned (``schema_version``) and upgraded by ordered migrations inside one
  transaction; a newer schema than we know is refused, never rewritten.
* A corrupt or locked database is reported in one line with the recovery command; nothing is
  ever deleted: ``ct index --rebuild`` moves the old file aside and re-imports trace folders.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

from ct.errors import ENVIRONMENT, TARGET, CtError


def _busy_timeout() -> float:
    """Seconds to wait for another writer; ``CODETRACER_INDEX_TIMEOUT`` overrides (tests)."""
    try:
        return max(0.0, float(os.environ.get("CODETRACER_INDEX_TIMEOUT", "60")))
    except ValueError:
        return 60.0


BUSY_TIMEOUT_S = _busy_timeout()

# Each entry upgrades from version i to i+1. Never edit a shipped entry: append a new one.
MIGRATIONS: list[str] = [
    # 0 -> 1: the first release.
    """
    CREATE TABLE traces (
        id INTEGER PRIMARY KEY,
        program TEXT NOT NULL,
        args TEXT NOT NULL DEFAULT '[]',
        workdir TEXT NOT NULL DEFAULT '',
        trace_dir TEXT NOT NULL UNIQUE,
        recorded_at TEXT NOT NULL,
        exit_status INTEGER,
        recorder_version TEXT
    );
    CREATE INDEX traces_program ON traces(program);
    CREATE INDEX traces_recorded_at ON traces(recorded_at);
    """,
    # 1 -> 2: language, interpreter, timing, counts, size, partial flag.
    """
    ALTER TABLE traces ADD COLUMN language TEXT NOT NULL DEFAULT 'python';
    ALTER TABLE traces ADD COLUMN interpreter TEXT;
    ALTER TABLE traces ADD COLUMN python_version TEXT;
    ALTER TABLE traces ADD COLUMN duration_s REAL;
    ALTER TABLE traces ADD COLUMN steps INTEGER;
    ALTER TABLE traces ADD COLUMN calls INTEGER;
    ALTER TABLE traces ADD COLUMN events INTEGER;
    ALTER TABLE traces ADD COLUMN exceptions INTEGER;
    ALTER TABLE traces ADD COLUMN size_bytes INTEGER;
    ALTER TABLE traces ADD COLUMN partial INTEGER NOT NULL DEFAULT 0;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = (
    "program", "args", "workdir", "language", "interpreter", "python_version", "trace_dir",
    "recorded_at", "duration_s", "exit_status", "recorder_version", "steps", "calls", "events",
    "exceptions", "size_bytes", "partial",
)


def rebuild_hint(path: Path) -> str:
    return f"run `ct index --rebuild` (moves {path.name} aside and re-imports the trace folders)"


def _translate(exc: sqlite3.Error, path: Path) -> CtError:
    """Turn an sqlite error into one actionable line."""
    text = str(exc)
    low = text.lower()
    if "locked" in low or "busy" in low:
        return CtError(
            f"the trace index {path} stayed locked by another process for "
            f"{int(BUSY_TIMEOUT_S)} s ({text}); retry, or find the holder with `fuser {path}`",
            ENVIRONMENT,
        )
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return CtError(f"the trace index {path} is corrupt ({text}); {rebuild_hint(path)}", ENVIRONMENT)
    if "readonly" in low or "unable to open" in low or "disk i/o" in low or "permission" in low:
        return CtError(
            f"cannot write the trace index {path} ({text}); make {path.parent} writable "
            "or set CODETRACER_DATA_DIR to a writable directory",
            ENVIRONMENT,
        )
    return CtError(f"trace index {path}: {text}; {rebuild_hint(path)}", ENVIRONMENT)


class Index:
    """A connection to the index; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CtError(
                f"cannot create the data dir {self.path.parent} ({exc.strerror or exc}); "
                "set CODETRACER_DATA_DIR to a writable directory",
                ENVIRONMENT,
            ) from exc
        try:
            self.db = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._ensure_wal()
            self._migrate()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def _ensure_wal(self) -> None:
        """Switch to WAL once; the mode is persistent, so later opens find it set."""
        mode = self.db.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            for _ in range(100):  # needs a moment without other connections' locks
                try:
                    self.db.execute("PRAGMA journal_mode = WAL")
                    break
                except sqlite3.OperationalError as exc:
                    if "locked" not in str(exc).lower():
                        raise
                    time.sleep(0.05)
        self.db.execute("PRAGMA synchronous = NORMAL")

    def schema_version(self) -> int:
        has = self.db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_version'"
        ).fetchone()
        if not has:
            return 0
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return int(row[0] or 0)

    def _migrate(self) -> None:
        """Apply pending migrations atomically; concurrent openers serialise on the lock."""
        if self.schema_version() == SCHEMA_VERSION:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            current = self.schema_version()  # re-read under the write lock
            if current > SCHEMA_VERSION:
                raise CtError(
                    f"the trace index {self.path} has schema version {current}, newer than this "
                    f"ct understands ({SCHEMA_VERSION}); upgrade ct",
                    ENVIRONMENT,
                )
            if current == 0:
                self.db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            for version in range(current, SCHEMA_VERSION):
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        self.db.execute(statement)
            self.db.execute("DELETE FROM schema_version")
            self.db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def add(self, record: dict) -> int:
        """Insert (or refresh, keyed by trace folder) one recording; return its id."""
        values = dict.fromkeys(COLUMNS)
        values.update({k: v for k, v in record.items() if k in values})
        values["args"] = json.dumps(list(values["args"] or []))
        values["partial"] = int(bool(values["partial"]))
        cols = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "trace_dir")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    f"INSERT INTO traces ({cols}) VALUES ({marks}) "
                    f"ON CONFLICT(trace_dir) DO UPDATE SET {updates}",
                    [values[c] for c in COLUMNS],
                )
                row = self.db.execute(
                    "SELECT id FROM traces WHERE trace_dir = ?", (values["trace_dir"],)
                ).fetchone()
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc
        return int(row[0])

    def _query(self, sql: str, params: Iterable = ()) -> list[dict]:
        try:
            rows = self.db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise _translate(exc, self.path) from exc
        return [_row_dict(r) for r in rows]

    def list(self, limit: int | None = None) -> list[dict]:
        """Newest first (recorded_at, then id for same-second recordings)."""
        sql = "SELECT * FROM traces ORDER BY recorded_at DESC, id DESC"
        if limit:
            return self._query(sql + " LIMIT ?", (int(limit),))
        return self._query(sql)

    def get(self, ref: str) -> dict:
        """Look a recording up by id, ``latest``, or its trace folder (path or name)."""
        if ref == "latest":
            rows = self.list(limit=1)
            if not rows:
                raise CtError("no recordings yet; record one with `ct record PROGRAM.py`", TARGET)
            return rows[0]
        if ref.isdigit():
            rows = self._query("SELECT * FROM traces WHERE id = ?", (int(ref),))
        else:
            full = str(Path(ref).expanduser().absolute())
            rows = [
                r for r in self._query("SELECT * FROM traces ORDER BY id DESC")
                if r["trace_dir"] == full or Path(r["trace_dir"]).name == ref
            ]
        if not rows:
            raise CtError(f"no recording {ref!r} in the index; `ct list` shows the ids", TARGET)
        return rows[0]

    def trace_dirs(self) -> list[str]:
        return [r["trace_dir"] for r in self._query("SELECT trace_dir FROM traces")]


def _row_dict(row: sqlite3.Row) -> dict:
    out = dict(row)
    try:
        out["args"] = json.loads(out.get("args") or "[]")
    except ValueError:
        out["args"] = [out["args"]]
    if "partial" in out:
        out["partial"] = bool(out["partial"])
    return out


def move_aside(path: Path) -> Path | None:
    """Rename a (possibly corrupt) index and its WAL files; never delete them."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.broken-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.broken-{stamp}-{n}")
        n += 1
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        if side.exists():
            side.rename(Path(str(target) + suffix))
    path.rename(target)
    return target


def salvage_trace_dirs(path: Path) -> list[str]:
    """Best effort: trace folders the old index knew about (it may be too broken to read)."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            return [r[0] for r in db.execute("SELECT trace_dir FROM traces")]
        finally:
            db.close()
    except sqlite3.Error:
        return []
