"""The trace index: ``trace_index.db`` (sqlite, WAL) in the data dir, one row per recording.

Safety rules, because the index is the only way users find traces again:

* WAL + ``busy_timeout`` + ``BEGIN IMMEDIATE`` for every write, so concurrent ``ct record``
  processes queue instead of failing; 8 at once all land.
* The schema is versioned (``schema_version``) and upgraded by ordered migrations inside one
  transaction; a newer schema than we know is refused, never rewritten.
* A corrupt or locked database is reported in one line with the recovery command; nothing is
  ever deleted: ``ct index --rebuild`` builds a new index beside the old one from the trace
  folders (those under the data dir, those the old index lists, those in ``trace_folders.log``)
  and swaps it in only once complete; a row whose folder cannot be re-imported keeps its old
  values. A rebuild that cannot finish (disk full) leaves the old index as it was.
* Every trace folder outside ``<data dir>/traces`` (``ct record -o``, ``ct index --import``)
  is also appended to ``trace_folders.log``, so a rebuild finds it even when the old index
  cannot be read at all.
* A full disk is reported as such (free space, then retry); it never advises a rebuild.
"""

from __future__ import annotations

import errno
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


FOLDERS_LOG = "trace_folders.log"


def rebuild_hint(path: Path) -> str:
    return f"run `ct index --rebuild` (moves {path.name} aside and re-imports the trace folders)"


def _is_full(text: str) -> bool:
    low = text.lower()
    return "disk is full" in low or "no space left" in low or "quota exceeded" in low


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
    if _is_full(text) or ("disk i/o" in low and _no_space(path.parent)):
        return CtError(
            f"cannot write the trace index {path}: the disk is full ({text}); free space on the "
            f"file system holding {path.parent}, then retry (the index is unchanged)",
            ENVIRONMENT,
        )
    if "disk i/o" in low and _wal_missing(path):
        return _wal_error(path)
    if "not a database" in low or "malformed" in low or "corrupt" in low:
        return CtError(f"the trace index {path} is corrupt ({text}); {rebuild_hint(path)}", ENVIRONMENT)
    if "readonly" in low or "unable to open" in low or "disk i/o" in low or "permission" in low:
        return CtError(
            f"cannot write the trace index {path} ({text}); make {path.parent} writable "
            "or set CODETRACER_DATA_DIR to a writable directory",
            ENVIRONMENT,
        )
    return CtError(f"trace index {path}: {text}; {rebuild_hint(path)}", ENVIRONMENT)


def _no_space(folder: Path) -> bool:
    """Whether the file system holding ``folder`` has no block left for us (SQLite reports a
    full disk met while mapping its shared memory as a disk I/O error)."""
    try:
        return os.statvfs(folder).f_bavail == 0
    except (OSError, AttributeError):
        return False


def _side(path: Path, suffix: str) -> Path:
    return Path(str(path) + suffix)


def _wal_missing(path: Path) -> bool:
    """SQLite removes ``-shm`` before ``-wal`` and creates them the other way round, so a
    ``-shm`` without its ``-wal`` means the log was deleted by someone else. The ``-wal`` is
    looked at before and after the ``-shm``: looking at the ``-shm`` first, another process
    closing the index in between (``-shm`` then ``-wal`` removed) looked like a lost log, and
    a concurrent ``ct record`` left its recording out of the index."""
    wal, shm = _side(path, "-wal"), _side(path, "-shm")
    return path.exists() and not wal.exists() and shm.exists() and not wal.exists()


def _wal_error(path: Path) -> CtError:
    return CtError(
        f"the trace index {path} lost its write-ahead log ({path.name}-wal was deleted while "
        f"{path.name}-shm remains), so recent rows may be missing; {rebuild_hint(path)}",
        ENVIRONMENT,
    )


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
        if _wal_missing(self.path):
            raise _wal_error(self.path)
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

    def add(self, record: dict, row_id: int | None = None) -> int:
        """Insert (or refresh, keyed by trace folder) one recording; return its id. ``row_id``
        (rebuild only) keeps the id the recording had in the old index."""
        values = dict.fromkeys(COLUMNS)
        values.update({k: v for k, v in record.items() if k in values})
        values["args"] = json.dumps(list(values["args"] or []))
        values["partial"] = int(bool(values["partial"]))
        columns = (("id",) if row_id is not None else ()) + COLUMNS
        values["id"] = row_id
        cols = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "trace_dir")
        try:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.execute(
                    f"INSERT INTO traces ({cols}) VALUES ({marks}) "
                    f"ON CONFLICT(trace_dir) DO UPDATE SET {updates}",
                    [values[c] for c in columns],
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
        note_folder(self.path, values["trace_dir"])
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


def note_folder(index_path: Path, trace_dir: str) -> None:
    """Remember a trace folder outside ``<data dir>/traces`` in ``trace_folders.log`` (one JSON
    string a line), so ``ct index --rebuild`` finds it even if the index cannot be read.
    Best effort: the row itself is already committed."""
    data = Path(index_path).parent
    if Path(trace_dir).parent == data / "traces":
        return
    log = data / FOLDERS_LOG
    line = json.dumps(str(trace_dir)) + "\n"
    try:
        if log.is_file():
            with log.open(encoding="utf-8") as fh:
                if line in fh:
                    return
        with log.open("a", encoding="utf-8") as fh:
            fh.write(line)
    except OSError:
        pass


def logged_folders(index_path: Path) -> list[str]:
    try:
        text = (Path(index_path).parent / FOLDERS_LOG).read_text(encoding="utf-8")
    except OSError:
        return []
    found = []
    for line in text.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash
        if isinstance(value, str) and value:
            found.append(value)
    return found


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
        side = _side(path, suffix)
        if side.exists():
            side.rename(_side(target, suffix))
    path.rename(target)
    return target


def salvage_rows(path: Path) -> list[dict]:
    """Best effort: the rows of an old index (it may be too broken to read), oldest id first.
    Read-only; with the index's own log when SQLite can, else the main file alone."""
    base = Path(path).absolute().as_uri()
    uris = [f"{base}?mode=ro", f"{base}?immutable=1"]
    if not _side(path, "-wal").exists():
        uris.reverse()  # nothing in a log to read, and a read-only open would leave one behind
    for uri in uris:
        try:
            db = sqlite3.connect(uri, uri=True, timeout=1)
        except sqlite3.Error:
            continue
        db.row_factory = sqlite3.Row
        try:
            try:
                return [_row_dict(r) for r in db.execute("SELECT * FROM traces ORDER BY id")]
            except sqlite3.Error:
                pass
            rows = []  # a damaged table: whatever can be read row by row
            try:
                ids = [r[0] for r in db.execute("SELECT id FROM traces ORDER BY id")]
            except sqlite3.Error:
                continue
            for row_id in ids:
                try:
                    row = db.execute("SELECT * FROM traces WHERE id = ?", (row_id,)).fetchone()
                except sqlite3.Error:
                    continue
                if row is not None:
                    rows.append(_row_dict(row))
            if rows:
                return rows
        finally:
            db.close()
    return []


def salvage_trace_dirs(path: Path) -> list[str]:
    """Best effort: trace folders the old index knew about."""
    return [r["trace_dir"] for r in salvage_rows(path) if r.get("trace_dir")]


def _remove_index_files(path: Path) -> None:
    for p in (path, _side(path, "-wal"), _side(path, "-shm"), _side(path, "-journal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


def _stale_rebuilds(path: Path) -> None:
    """Remove what a killed ``--rebuild`` left (its pid is in the name)."""
    for old in path.parent.glob(f".{path.name}.rebuild-*"):
        pid = old.name.rsplit("-", 1)[-1].split(".", 1)[0]
        if not pid.isdigit() or old.name.endswith(("-wal", "-shm", "-journal")):
            continue
        try:
            os.kill(int(pid), 0)
            continue  # a rebuild still running
        except ProcessLookupError:
            _remove_index_files(old)
        except OSError:
            continue


def rebuild(path: Path, traces: Path, say=print) -> int:
    """``ct index --rebuild``: build a new index beside ``path`` from every trace folder known
    (under ``traces``, listed by the old index, in ``trace_folders.log``); a row whose folder
    cannot be re-imported (missing, unmounted, damaged) keeps its old values and id. Swap it
    in only once complete; on any failure remove it and leave the old index untouched.
    Returns 0, raises CtError (ENVIRONMENT) when it could not finish."""
    from ct import importer  # importer does not import this module; kept local all the same

    path = Path(path)
    old_rows = salvage_rows(path) if path.exists() else []
    by_dir = {r["trace_dir"]: r for r in old_rows if r.get("trace_dir")}
    folders: dict[str, int | None] = {}  # folder -> old id; old ids first, so none is taken
    for row in old_rows:
        if row.get("trace_dir"):
            folders.setdefault(row["trace_dir"], row.get("id"))
    found = []
    if traces.is_dir():
        found = [c for c in sorted(traces.iterdir()) if not c.name.startswith(".")]
    for candidate in [*map(str, (c.absolute() for c in found)), *logged_folders(path)]:
        folders.setdefault(candidate, None)

    _stale_rebuilds(path)
    tmp = path.with_name(f".{path.name}.rebuild-{os.getpid()}")
    _remove_index_files(tmp)
    kept: list[str] = []
    imported = 0
    try:
        with Index(tmp) as new:
            for folder, row_id in folders.items():
                try:
                    if not importer.is_trace_folder(Path(folder)):
                        raise CtError(f"{folder} holds no trace", TARGET)
                    record = importer.build_record(Path(folder))
                except CtError as exc:
                    if exc.status != TARGET:
                        raise
                    if folder in by_dir:  # never drop a row: keep what the old index said
                        new.add(by_dir[folder], row_id=row_id)
                        kept.append(f"{folder} ({exc.message})")
                    continue
                new.add(record, row_id=row_id)
                imported += 1
            busy, log, done = new.db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if busy or log != done:
                raise CtError(f"could not write the new index out of its log ({done} of {log} "
                              "pages)", ENVIRONMENT)
        if _side(tmp, "-wal").exists() and _side(tmp, "-wal").stat().st_size:
            raise CtError("the new index kept a non-empty write-ahead log", ENVIRONMENT)
    except (CtError, sqlite3.Error, OSError) as exc:
        _remove_index_files(tmp)
        why = getattr(exc, "message", None) or getattr(exc, "strerror", None) or str(exc)
        if _is_full(why) or getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT):
            why = f"the disk holding {path.parent} is full"
        raise CtError(
            f"index --rebuild could not finish ({why}); {path} is unchanged: fix that (free "
            "space if the disk is full) and run `ct index --rebuild` again",
            ENVIRONMENT,
        ) from None
    aside = move_aside(path)
    try:
        os.replace(tmp, path)
    except OSError as exc:
        if aside is not None:
            aside.rename(path)
        _remove_index_files(tmp)
        raise CtError(f"index --rebuild could not put the new index in place "
                      f"({exc.strerror or exc}); {path} is unchanged", ENVIRONMENT) from None
    if aside:
        say(f"ct: moved the old index to {aside}")
    for text in kept[:5]:
        say(f"ct: kept the old row of {text}")
    if len(kept) > 5:
        say(f"ct: kept the old rows of {len(kept) - 5} more folder(s) that could not be re-read")
    say(f"ct: rebuilt {path}: {imported} trace folder(s) re-imported, {len(kept)} row(s) kept "
        "as they were")
    return 0
