"""enable_celery in a real Celery worker process (Redis broker, prefork pool) running tasks
that call PostgreSQL and an HTTP server; then every server is stopped and the captured task
runs are replayed locally with `ct replay-task`: same outcome, and the task that failed only
with the recorded production data fails the same way, its trace showing the failing line."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from integrations_support import (
    APPS,
    HttpServer,
    PostgresServer,
    RedisServer,
    app_env,
    load_captures,
    need_redis,
    needs_recorder,
    pg_bin,
    run_ct,
)

pytestmark = needs_recorder


def _start_worker(env: dict, log: Path) -> subprocess.Popen:
    out = open(log, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks_app", "worker", "--pool", "prefork",
         "--concurrency", "2", "--loglevel", "WARNING", "--without-gossip", "--without-mingle",
         "--without-heartbeat"],
        cwd=APPS, env=env, stdout=out, stderr=subprocess.STDOUT)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    need_redis()
    pytest.importorskip("celery", reason="Celery is not installed (pip install celery[redis])")
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install psycopg)")
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql)")
    import psycopg
    from celery import Celery

    tmp = tmp_path_factory.mktemp("celery")
    pg_base = Path(tempfile.mkdtemp(prefix="ct-int-pg-"))
    http, redis_server = HttpServer(), RedisServer(tmp)
    pg = None
    try:
        pg = PostgresServer(pg_base, bindir)
        with psycopg.connect(pg.dsn, autocommit=True) as conn:
            conn.execute("CREATE TABLE lines (id serial PRIMARY KEY, order_id int, qty int,"
                         " unit_price numeric)")
            conn.execute("INSERT INTO lines (order_id, qty, unit_price) VALUES"
                         " (1, 2, 1.50), (1, 1, 2.25), (2, 3, 1.00), (2, NULL, 4.00)")
        broker = f"redis://127.0.0.1:{redis_server.port}/0"
        caps = tmp / "caps"
        env = app_env(CODETRACER_CAPTURE_DIR=caps, BROKER_URL=broker, DSN=pg.dsn,
                      UPSTREAM=http.url)
        worker = _start_worker(env, tmp / "worker.log")
        try:
            client = Celery("client", broker=broker, backend=broker)
            ok = client.send_task("tasks_app.invoice_total", args=[1], kwargs={"currency": "EUR"})
            bad = client.send_task("tasks_app.invoice_total", args=[2])
            flaky = client.send_task("tasks_app.flaky_fetch", args=["k1"])
            ok_value = ok.get(timeout=90)
            bad.get(timeout=90, propagate=False)
            flaky_value = flaky.get(timeout=90)
            bad_state, bad_error = bad.state, repr(bad.result)
            client.close()
        finally:
            worker.terminate()  # warm shutdown
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(10)
    finally:
        http.stop()
        redis_server.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(pg_base, ignore_errors=True)
    log = (tmp / "worker.log").read_text()
    return {"tmp": tmp, "caps": caps, "ok_id": ok.id, "bad_id": bad.id, "ok_value": ok_value,
            "flaky_id": flaky.id, "flaky_value": flaky_value,
            "bad_state": bad_state, "bad_error": bad_error, "log": log,
            "env": app_env(DSN=pg.dsn, UPSTREAM=http.url, BROKER_URL=broker,
                           XDG_DATA_HOME=tmp / "data")}


def _runs(ran, task_id: str) -> list[tuple[Path, dict]]:
    """The captures of one task id (a retried task has one per attempt), oldest first."""
    found = [(p, json.loads(p.read_text())) for p in sorted(ran["caps"].glob("*.json"))]
    return [(p, d) for p, d in found if d["id"] == task_id]


def _capture(ran, task_id: str) -> tuple[Path, dict]:
    for path, data in _runs(ran, task_id):
        return path, data
    raise AssertionError(f"no capture for {task_id}: {sorted(os.listdir(ran['caps']))}\n"
                         f"{ran['log'][-3000:]}")


def test_worker_writes_one_capture_per_run(ran):
    assert ran["ok_value"]["total"] == "5.25" and ran["bad_state"] == "FAILURE"
    tasks = [c for c in load_captures(ran["caps"]) if c["kind"] == "task"]
    assert len(tasks) == 4  # the retried task: one per attempt
    path, ok = _capture(ran, ran["ok_id"])
    assert path.name.endswith(f"Z_task_tasks_app.invoice_total_{ran['ok_id'][:12]}.json")
    assert ok["kind"] == "task" and ok["outcome"] == "success"
    assert ok["task"] == {"name": "tasks_app.invoice_total", "id": ran["ok_id"], "args": [1],
                          "kwargs": {"currency": "EUR"}, "retries": 0, "eta": None}
    assert ok["result"]["total"] == "5.25"
    keys = [d["key"] for d in ok["deps"]]
    assert keys[0].startswith("CONNECT host=127.0.0.1")
    assert any(k.startswith("SQL SELECT qty, unit_price FROM lines") and "[1]" in k for k in keys)
    assert any(k.startswith("GET http://127.0.0.1:") and "q=rate-EUR" in k for k in keys)
    _, bad = _capture(ran, ran["bad_id"])
    assert bad["outcome"] == "failure" and bad["result"] is None
    assert bad["exception"]["type"] == "builtins:TypeError"
    assert "NoneType" in bad["exception"]["message"]
    assert "total += qty * price" in bad["exception"]["traceback"]
    assert all("[2]" in d["key"] for d in bad["deps"] if d["key"].startswith("SQL"))


def test_replay_success_without_any_server(ran):
    path, _ = _capture(ran, ran["ok_id"])
    done = run_ct(["replay-task", str(path), "--app", "tasks_app:app", "--no-record"],
                  env=ran["env"])
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "outcome matches the recording" in done.stdout
    # psycopg connect + query, the HTTP request (its connect is recorded, not needed in
    # replay); the same for the pool process's start-up and the worker's: an HTTP request each
    assert ("5 of 8 dependency calls answered from the capture (4 of the worker's "
            "start-up)") in done.stdout, done.stdout
    assert "missed" not in done.stdout
    assert "replay miss" not in done.stderr


def test_failed_task_fails_the_same_way_and_its_trace_shows_the_line(ran):
    path, _ = _capture(ran, ran["bad_id"])
    trace = ran["tmp"] / "trace"
    done = run_ct(["replay-task", str(path), "--app", "tasks_app:app", "-o", str(trace)],
                  env=ran["env"])
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "-> failure (recorded failure)" in done.stdout
    assert "outcome matches the recording" in done.stdout
    assert "TypeError: unsupported operand type(s) for *: 'NoneType'" in done.stderr
    sys.path.insert(0, str(APPS.parent.parent))
    from ctfs_view import CtfsView

    view = CtfsView(trace)
    source = (APPS / "tasks_app.py").read_text().splitlines()
    line = next(n for n, text in enumerate(source, 1) if "total += qty * price" in text)
    assert (str(APPS / "tasks_app.py"), line) in view.slots
    assert sum(e["metadata"] == "deps:sql" for e in view.events) >= 2


def test_replay_says_when_the_outcome_differs(ran, tmp_path):
    path, data = _capture(ran, ran["bad_id"])
    data["exception"]["message"] = "something else"
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    done = run_ct(["replay-task", str(changed), "--app", "tasks_app:app", "--no-record"],
                  env=ran["env"])
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "outcome differs" in done.stdout and "recorded builtins:TypeError: something else" \
        in done.stdout


def test_ct_captures_lists_tasks(ran):
    done = run_ct(["captures", str(ran["caps"]), "--json"], env=ran["env"])
    rows = {r["id"]: r for r in json.loads(done.stdout)}
    assert rows[ran["ok_id"]]["outcome"] == "success" and rows[ran["ok_id"]]["deps"] == 4
    assert rows[ran["bad_id"]]["result"] == "failure (TypeError)"
    bad_usage = run_ct(["replay-task", str(_capture(ran, ran["ok_id"])[0]), "--app", "nope"],
                       env=ran["env"])
    assert bad_usage.returncode == 2
    assert "--app nope: no module named 'nope'" in bad_usage.stderr  # read as celery -A


def test_a_retried_run_is_captured_and_replays_to_the_same_retry(ran):
    assert ran["flaky_value"] == {"key": "k1", "n": 2, "attempt": 1}
    (first_path, first), (_, second) = _runs(ran, ran["flaky_id"])
    assert first["outcome"] == "retry" and first["task"]["retries"] == 0
    assert first["exception"]["type"] == "builtins:RuntimeError"
    assert first["exception"]["message"] == "odd counter 1"
    assert second["outcome"] == "success" and second["task"]["retries"] == 1
    assert second["result"] == {"key": "k1", "n": 2, "attempt": 1}
    # locally, retry() raises the reason: the same exception as the recorded attempt
    done = run_ct(["replay-task", str(first_path), "--app", "tasks_app:app", "--no-record"],
                  env=ran["env"])
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "-> failure (recorded retry)" in done.stdout
    assert "outcome matches the recording" in done.stdout


def test_bad_captures_are_one_line_errors(ran, tmp_path):
    not_capture = tmp_path / "x.json"
    not_capture.write_text("{}")
    done = run_ct(["replay-task", str(not_capture), "--app", "tasks_app:app", "--no-record"],
                  env=ran["env"])
    assert done.returncode == 2
    assert done.stderr.strip().endswith("pass a file written by the middleware or enable_celery")
    assert len(done.stderr.strip().splitlines()) == 1
    done = run_ct(["replay-task", str(tmp_path / "missing.json"), "--app", "tasks_app:app"],
                  env=ran["env"])
    assert done.returncode == 20 and "does not exist" in done.stderr
    newer = json.loads(_capture(ran, ran["ok_id"])[0].read_text())
    newer["version"] = 99
    (tmp_path / "newer.json").write_text(json.dumps(newer))
    done = run_ct(["replay-task", str(tmp_path / "newer.json"), "--app", "tasks_app:app",
                   "--no-record"], env=ran["env"])
    assert done.returncode == 2 and "upgrade codetracer-python-recorder" in done.stderr
    request_kind = dict(newer, version=1, kind="request")
    (tmp_path / "req.json").write_text(json.dumps(request_kind))
    done = run_ct(["replay-task", str(tmp_path / "req.json"), "--app", "tasks_app:app",
                   "--no-record"], env=ran["env"])
    assert done.returncode == 2 and "replay it with ct replay-request" in done.stderr
    done = run_ct(["replay-task", str(_capture(ran, ran["ok_id"])[0]), "--app",
                   "tasks_app:nope", "--no-record"], env=ran["env"])
    assert done.returncode == 2 and "has no attribute 'nope'" in done.stderr


def test_app_given_as_celery_does_or_through_a_factory(ran):
    """``--app tasks_app`` finds the app as ``celery -A tasks_app`` does; a factory is called
    (``--factory`` or ``module:factory()``); a module without one is a one-line error."""
    path, _ = _capture(ran, ran["ok_id"])
    for app in (["tasks_app"], ["tasks_app:make_app", "--factory"], ["tasks_app:make_app()"]):
        done = run_ct(["replay-task", str(path), "--app", *app, "--no-record"], env=ran["env"])
        assert done.returncode == 0, (app, done.stdout, done.stderr)
        assert "outcome matches the recording" in done.stdout
    done = run_ct(["replay-task", str(path), "--app", "shop", "--no-record"], env=ran["env"])
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "module shop has no Celery app named app or celery" in done.stderr


EAGER_APP = '''
import sys
from celery import Celery
from codetracer_python_recorder.integrations.celery import enable_celery

app = Celery("eager_app", broker="memory://", backend="cache+memory://")
app.conf.task_always_eager = True  # in this process: the signals fire as in a worker
options = {} if sys.argv[2] == "env" else {"errors_only": sys.argv[2] == "1"}
print(enable_celery(app, capture_dir=sys.argv[1], **options))


@app.task(name="eager_app.ok")
def ok(x):
    return x + 1


@app.task(name="eager_app.bad")
def bad(x):
    return 1 / x


print(ok.delay(1).get(), bad.delay(0).state)
'''


@pytest.mark.parametrize("errors_only", ["0", "1", "env"])
def test_errors_only_and_file_names(tmp_path, errors_only):
    pytest.importorskip("celery", reason="Celery is not installed (pip install celery[redis])")
    (tmp_path / "eager_app.py").write_text(EAGER_APP)
    done = subprocess.run([sys.executable, "eager_app.py", "caps", errors_only], cwd=tmp_path,
                          env=app_env(CODETRACER_CAPTURE_ERRORS_ONLY="1"), capture_output=True,
                          text=True, timeout=60)
    assert done.stdout == "True\n2 FAILURE\n", (done.stdout, done.stderr)
    names = sorted(p.name for p in (tmp_path / "caps").glob("*.json"))
    runs = {json.loads((tmp_path / "caps" / n).read_text())["task"]["name"]: n for n in names}
    # CODETRACER_CAPTURE_ERRORS_ONLY=1 applies when the argument does not say
    assert sorted(runs) == (["eager_app.bad", "eager_app.ok"] if errors_only == "0"
                            else ["eager_app.bad"])
    for task, name in runs.items():
        ident = json.loads((tmp_path / "caps" / name).read_text())["id"]
        # <UTC start>Z_task_<task name>_<first 12 characters of the id>.json
        assert re.fullmatch(rf"\d{{8}}T\d{{6}}\.\d{{6}}Z_task_{re.escape(task)}_"
                            rf"{re.escape(ident[:12])}\.json", name), name


def test_tasks_running_at_once_in_one_worker_process_keep_their_own_calls(tmp_path):
    """A real worker with the threads pool: eight task runs at once in one process, their
    HTTP answers arriving in reverse order; each capture has exactly its own calls."""
    need_redis()
    pytest.importorskip("celery", reason="Celery is not installed (pip install celery[redis])")
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install psycopg)")
    from celery import Celery

    http, redis_server = HttpServer(), RedisServer(tmp_path)
    try:
        broker = f"redis://127.0.0.1:{redis_server.port}/0"
        env = app_env(CODETRACER_CAPTURE_DIR=tmp_path / "caps", BROKER_URL=broker,
                      UPSTREAM=http.url)
        log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - closed below
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "tasks_app", "worker", "--pool", "threads",
             "--concurrency", "8", "--loglevel", "WARNING", "--without-gossip",
             "--without-mingle", "--without-heartbeat"],
            cwd=APPS, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            client = Celery("client", broker=broker, backend=broker)
            results = [client.send_task("tasks_app.lookup", args=[f"k{i}"]) for i in range(8)]
            values = [r.get(timeout=90) for r in results]
            booted = client.send_task("tasks_app.booted")
            assert booted.get(timeout=90) == "q=boot"
            client.close()
        finally:
            worker.terminate()
            worker.wait(30)
            log.close()
    finally:
        http.stop()
        redis_server.stop()
    assert values == [[f"q=k{i}", f"q=k{i}-again"] for i in range(8)]
    captures = load_captures(tmp_path / "caps")
    startups = [c for c in captures if c["kind"] == "startup"]
    captures = [c for c in captures if c["kind"] == "task"]
    assert len(captures) == 9, (tmp_path / "worker.log").read_text()[-2000:]
    assert len({c["pid"] for c in captures + startups}) == 1
    # no pool process here: the worker's start-up (its worker_init call) is the only one
    assert [[d["key"].rpartition("?")[2] for d in c["deps"] if d["key"].startswith("GET")]
            for c in startups] == [["q=boot"]]
    names = {c["worker_startup"] for c in captures}
    assert len(names) == 1
    assert json.loads((tmp_path / "caps" / names.pop()).read_text()) == startups[0]
    assert not any(c["process_init"] for c in captures)
    # every server is stopped: the replay runs worker_init again, its call answered
    path = next(p for p in (tmp_path / "caps").glob("*.json")
                if json.loads(p.read_text())["id"] == booted.id)
    done = run_ct(["replay-task", str(path), "--app", "tasks_app:app", "--no-record"],
                  env=app_env(UPSTREAM=http.url, BROKER_URL=broker,
                              XDG_DATA_HOME=tmp_path / "data"))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "(2 of the worker's start-up)" in done.stdout
    assert "outcome matches the recording" in done.stdout and "replay miss" not in done.stderr
    lookups = [c for c in captures if c["task"]["name"] == "tasks_app.lookup"]
    spans = sorted((c["started_at"], c["started_at"] + c["duration"]) for c in lookups)
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # all at once
    for c in lookups:
        key = c["task"]["args"][0]
        gets = [d["key"].rpartition("?")[2] for d in c["deps"] if d["key"].startswith("GET")]
        assert gets == [f"q={key}", f"q={key}-again"], (key, gets)


def test_a_pool_process_start_up_is_its_own_capture_and_replays(ran):
    """The pool process's worker_process_init handler makes a call before any task: it is in
    a start-up capture the process's task captures name, in none of them, and ct replay-task
    runs the handler again with that call answered (the task's result holds its value)."""
    captures = load_captures(ran["caps"])
    tasks = [c for c in captures if c["kind"] == "task"]
    assert all(c["process_init"] for c in tasks)
    named = {c["startup"] for c in tasks}
    assert None not in named and all((ran["caps"] / name).is_file() for name in named)
    for name in named:
        startup = json.loads((ran["caps"] / name).read_text())
        assert startup["kind"] == "startup" and startup["framework"] == "celery"
        assert [d["key"].rpartition("?")[2] for d in startup["deps"]
                if d["key"].startswith("GET")] == ["q=init"]
    assert not [d for c in tasks for d in c["deps"] if "q=init" in d["key"]]
    assert ran["ok_value"]["init"] == "q=init"
    path, _ = _capture(ran, ran["ok_id"])
    done = run_ct(["replay-task", str(path), "--app", "tasks_app:app", "--no-record"],
                  env=ran["env"])
    assert done.returncode == 0, (done.stdout, done.stderr)
    # connect + GET of each start-up: the pool process's and the worker's (below)
    assert "(4 of the worker's start-up)" in done.stdout
    assert "outcome matches the recording" in done.stdout and "replay miss" not in done.stderr


def test_the_worker_start_up_is_its_own_capture_and_replays(ran):
    """The worker's worker_init handler makes a call in the process celery starts, before it
    forks its pool: that call is in a start-up capture of its own, which every task capture
    names (the pool processes inherit it); ct replay-task sends worker_init again with the
    call answered from it."""
    captures = load_captures(ran["caps"])
    tasks = [c for c in captures if c["kind"] == "task"]
    assert all(c["worker_init"] for c in tasks)
    names = {c["worker_startup"] for c in tasks}
    assert len(names) == 1 and None not in names
    worker = json.loads((ran["caps"] / names.pop()).read_text())
    assert worker["kind"] == "startup" and worker["pid"] not in {c["pid"] for c in tasks}
    assert [d["key"].rpartition("?")[2] for d in worker["deps"]
            if d["key"].startswith("GET")] == ["q=boot"]
    assert not [d for c in captures if c["id"] != worker["id"] for d in c["deps"]
                if "q=boot" in d["key"]]
    assert ran["ok_value"]["boot"] == "q=boot"
