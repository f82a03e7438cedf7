"""``python -m codetracer_python_recorder.integrations.replay_request CAPTURE --app module:app``

Sends one captured request through the ASGI app in this process (no server, no socket), with
every dependency call answered from the capture, and says whether the response matches the
recorded one: the status, and a diff of the bodies when they differ. Exit status: 0 the
response matches, 1 it differs, 2 a usage error (bad capture or ``--app``). ``ct
replay-request`` runs this under the time-travel recorder.
"""

from __future__ import annotations

import asyncio
import sys
import traceback

from . import capture, replay

PROG = "ct replay-request"


class StartupFailed(Exception):
    """The app's lifespan start-up failed: the request is not sent."""


def build_scope(req: dict) -> tuple[dict, bytes]:
    body = capture.body_bytes(req.get("body"))
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
               for k, v in req.get("headers") or [] if k.lower() != "content-length"]
    if body or req.get("method") in ("POST", "PUT", "PATCH"):
        headers.append((b"content-length", str(len(body)).encode()))
    path = req.get("path") or "/"
    scope = {
        "type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": req.get("http_version") or "1.1", "method": req.get("method", "GET"),
        "scheme": req.get("scheme") or "http", "path": path,
        "raw_path": path.encode("utf-8"), "query_string": (req.get("query") or "").encode(),
        "root_path": req.get("root_path") or "", "headers": headers,
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {},
    }
    return scope, body


async def _lifespan(app, phase: str, state: dict) -> None:
    """Runs the app's startup (or shutdown) once, if it speaks the lifespan protocol."""
    if phase == "startup":
        inbox: asyncio.Queue = asyncio.Queue()
        outbox: asyncio.Queue = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
        task = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
        state["_lifespan"] = (task, inbox, outbox)
    task, inbox, outbox = state["_lifespan"]
    await inbox.put({"type": f"lifespan.{phase}"})
    getter = asyncio.ensure_future(outbox.get())
    done, _ = await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
    if getter in done:
        message = getter.result()
        if message["type"].endswith(".failed"):
            await asyncio.wait({task}, timeout=5)  # the app re-raises after saying so
            if task.done() and not task.cancelled():
                task.exception()  # retrieved: reported below in one line, not by asyncio
            text = (message.get("message") or "").strip().splitlines()
            raise StartupFailed(f"the app's lifespan {phase} failed: "
                                f"{text[-1] if text else 'no message'}")
        return
    getter.cancel()
    if not task.cancelled():
        task.exception()  # retrieved: an app without lifespan support raises on its scope
    state["_lifespan_off"] = True  # the app returned or raised: no lifespan support


async def run_request(app, req: dict) -> dict:
    scope, body = build_scope(req)
    lifespan_state: dict = {}
    try:
        await _lifespan(app, "startup", lifespan_state)
    except StartupFailed:
        raise
    except Exception:  # noqa: BLE001 - an app without lifespan support
        lifespan_state["_lifespan_off"] = True
    if not lifespan_state.get("_lifespan_off"):
        scope["state"] = {k: v for k, v in lifespan_state.items() if not k.startswith("_")}
    result: dict = {"status": None, "headers": [], "body": bytearray(), "exception": None}
    sent = []

    async def receive():
        if not sent:
            sent.append(True)
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)  # the client stays connected until the response is done
        return {"type": "http.disconnect"}

    async def send(message):
        if message["type"] == "http.response.start":
            result["status"] = message["status"]
            result["headers"] = message.get("headers", [])
        elif message["type"] == "http.response.body":
            result["body"] += message.get("body", b"")

    try:
        await app(scope, receive, send)
    except Exception as exc:  # noqa: BLE001 - reported, compared with the recorded one
        result["exception"] = exc
        result["traceback"] = traceback.format_exc()
        if result["status"] is None:
            result["status"] = 500
    if not lifespan_state.get("_lifespan_off") and "_lifespan" in lifespan_state:
        try:
            await _lifespan(app, "shutdown", lifespan_state)
        except Exception:  # noqa: BLE001
            pass
    return result


def compare(recorded: dict, result: dict) -> tuple[bool, str]:
    rec_resp = recorded.get("response") or {}
    rec_status = rec_resp.get("status") or (500 if recorded.get("exception") else None)
    lines = []
    same = result["status"] == rec_status
    if not same:
        lines.append(f"  status {result['status']}, recorded {rec_status}")
    rec_body = capture.body_bytes(rec_resp.get("body"))
    body = bytes(result["body"])
    if rec_resp.get("body_cut"):
        body = body[:len(rec_body)]  # only the recorded head can be compared
    if rec_resp and body != rec_body:
        same = False
        lines.append(f"  body differs ({len(body)} bytes, recorded {len(rec_body)}):")
        lines.append(replay.body_diff(rec_body, body).rstrip("\n"))
    rec_exc = recorded.get("exception")
    exc = result["exception"]
    if rec_exc and exc is not None:
        name = f"{type(exc).__module__}:{type(exc).__qualname__}"
        if name != rec_exc.get("type") or str(exc) != rec_exc.get("message"):
            same = False
            lines.append(f"  exception {name}: {exc}, recorded {rec_exc.get('type')}: "
                         f"{rec_exc.get('message')}")
    elif bool(rec_exc) != (exc is not None):
        same = False
        lines.append(f"  exception {type(exc).__name__ + ': ' + str(exc) if exc else 'none'}, "
                     f"recorded {rec_exc.get('type') + ': ' + rec_exc.get('message') if rec_exc else 'none'}")
    return same, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        recorded, engine, app, startup_calls = replay.start(
            argv, prog=PROG, doc=__doc__, kind="request", what="ASGI app")
    except (capture.CaptureFileError, replay.ReplayUsageError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    req = recorded["request"]
    label = f"{req.get('method')} {req.get('path')}"
    if req.get("body_cut"):
        print(f"{PROG}: the recorded request body was cut at capture ({req['body_cut']} bytes "
              "missing); raise max_body to replay it whole", file=sys.stderr)
    try:
        result = asyncio.run(run_request(app, req))
    except StartupFailed as exc:
        replay.disarm(1)
        print(f"{PROG}: {exc}; the request was not sent", file=sys.stderr)
        return 1
    if result["exception"] is not None:
        sys.stderr.write(f"{PROG}: the app raised while serving {label}:\n{result['traceback']}")
    replay.disarm(0)
    same, detail = compare(recorded, result)
    calls = len(recorded.get("deps") or []) + startup_calls
    print(f"{PROG}: {label} (route {req.get('route')}) -> {result['status']}; "
          f"{engine.hits} of {calls} dependency calls answered from the capture"
          + (f" ({startup_calls} of the app's start-up)" if startup_calls else "")
          + (f", {engine.misses} missed" if engine.misses else ""))
    print("response matches the recording" if same else f"response differs:\n{detail}")
    sys.stdout.flush()
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
