"""Real services on loopback for the dependency capture tests, and a runner for recordings.

HTTP: a ThreadingHTTPServer in this process. Redis: ``redis-server`` with no persistence.
PostgreSQL: ``initdb -A trust`` + ``pg_ctl`` in a temp dir (as the ``postgres`` user when run
as root). Each fixture skips, naming what is missing, when its tool or package is absent, and
exposes ``stop()`` so a test can replay with the service gone.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

RECORDER_PARENT = None
try:
    import codetracer_python_recorder as _rec

    RECORDER_PARENT = str(Path(_rec.__file__).resolve().parent.parent)
except Exception:  # noqa: BLE001
    pass

needs_recorder = pytest.mark.skipif(
    RECORDER_PARENT is None or sys.version_info < (3, 12),
    reason="codetracer_python_recorder is not importable here (pip install ./recorder)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_recorder(args, *, cwd, env=None, timeout=120) -> subprocess.CompletedProcess:
    """``python -m codetracer_python_recorder ARGS`` with this test run's recorder."""
    merged = dict(os.environ)
    merged["PYTHONPATH"] = RECORDER_PARENT or ""
    merged.pop("CODETRACER_DEPS", None)
    merged.update(env or {})
    return subprocess.run([sys.executable, "-m", "codetracer_python_recorder", *args],
                          cwd=cwd, capture_output=True, text=True, env=merged, timeout=timeout)


def run_plain(args, *, cwd, timeout=120) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          env=env, timeout=timeout)


def load_capture(folder: Path) -> list[dict]:
    lines = (folder / "deps.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:] if '"seq"' in line]


# --- HTTP -------------------------------------------------------------------------------

BINARY = bytes(range(256)) * 4
LARGE = hashlib.sha256(b"seed").digest() * (3 * 1024 * 1024 // 32)  # 3 MiB
BIG_BLOCK = hashlib.sha256(b"big").digest() * (1024 * 1024 // 32)  # 1 MiB of /big
STREAM_CHUNKS = [b"alpha\n", bytes(range(256)) * 3, b"line one\nline two\n", b"x" * 70000,
                 b"omega\n"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    counter = 0
    lock = threading.Lock()
    arrivals = 0

    def log_message(self, *args):
        pass

    def _send(self, status, body: bytes, ctype="application/json", extra=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/json":
            self._send(200, json.dumps({"ok": True, "query": query}).encode())
        elif path == "/text":
            self._send(200, "héllo wörld\n".encode(), "text/plain; charset=utf-8")
        elif path == "/binary":
            self._send(200, BINARY, "application/octet-stream")
        elif path == "/large":
            self._send(200, LARGE, "application/octet-stream")
        elif path == "/gzip":
            self._send(200, gzip.compress(b"zipped " * 1000), "text/plain",
                       [("Content-Encoding", "gzip")])
        elif path == "/counter":
            with _Handler.lock:
                _Handler.counter += 1
                n = _Handler.counter
            self._send(200, json.dumps({"n": n}).encode())
        elif path == "/slow":
            # the n-th arrival waits longest: answers complete in reverse arrival order
            with _Handler.lock:
                _Handler.arrivals += 1
                n = _Handler.arrivals
            time.sleep(max(0.0, (25 - n) * 0.01))
            self._send(200, json.dumps({"arrival": n, "query": query}).encode())
        elif path == "/fail":
            self._send(500, b'{"error": "boom"}')
        elif path == "/stream":
            self._stream(hold="hold" in query)
        elif path == "/big":  # BIG_BLOCK repeated ?mb= MiB times, made as it is sent
            self._big(int(query.partition("mb=")[2].partition("&")[0] or 1), "chunked" in query)
        elif path == "/reset":  # promises 1000 bytes, sends 100, then resets the connection
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"r" * 100)
            time.sleep(0.2)  # the client has read them and waits for more
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()  # with a zero linger: a reset, not an orderly end
            self.close_connection = True
        elif path == "/broken":  # promises 1000 bytes, sends 100, closes the connection
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"b" * 100)
            self.close_connection = True
        else:
            self._send(404, b"{}")

    def _big(self, mib: int, chunked: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(mib * len(BIG_BLOCK)))
        self.end_headers()
        for _ in range(mib):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(BIG_BLOCK), BIG_BLOCK) if chunked
                             else BIG_BLOCK)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _stream(self, hold: bool) -> None:
        """Chunked, one chunk at a time with pauses, so a client sees the server's chunks; with
        ``hold`` the end comes only after 30 s (a stream a program stops reading early)."""
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in STREAM_CHUNKS:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
                time.sleep(0.03)
            if hold:
                time.sleep(30)
            self.wfile.write(b"0\r\n\r\n")
        except OSError:  # the client stopped reading
            pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        self._send(200, json.dumps({"got": hashlib.sha256(body).hexdigest(),
                                    "auth": self.headers.get("Authorization")}).encode())


class HttpServer:
    def __init__(self, tls_dir: Path | None = None) -> None:
        _Handler.counter = 0
        _Handler.arrivals = 0
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls_dir is not None:  # HTTPS with a self-signed certificate made by openssl
            import ssl

            self.cert = tls_dir / "cert.pem"
            key = tls_dir / "key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", str(key), "-out", str(self.cert), "-days", "2",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.cert, key)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self.server.shutdown()
            self.server.server_close()
            self.running = False


@pytest.fixture
def http_server():
    server = HttpServer()
    yield server
    server.stop()


@pytest.fixture
def https_server(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (Debian package openssl): it makes the test's "
                    "certificate")
    server = HttpServer(tls_dir=tmp_path)
    yield server
    server.stop()


# --- Redis ------------------------------------------------------------------------------

class RedisServer:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture
def redis_server(tmp_path):
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    pytest.importorskip("redis", reason="redis-py is not installed (pip install redis)")
    server = RedisServer(tmp_path)
    yield server
    server.stop()


# --- PostgreSQL -------------------------------------------------------------------------

def _pg_bin() -> Path | None:
    root = Path("/usr/lib/postgresql")
    versions = sorted(root.iterdir(), key=lambda p: p.name) if root.is_dir() else []
    for v in reversed(versions):
        if (v / "bin" / "pg_ctl").exists():
            return v / "bin"
    return None


class PostgresServer:
    def __init__(self, base: Path, bindir: Path) -> None:
        self.bindir = bindir
        self.dir = base / "pg"
        self.dir.mkdir()
        self.data = self.dir / "data"
        self.port = free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.dir, "postgres")
            os.chmod(base, 0o755)
        self._run([str(bindir / "initdb"), "-A", "trust", "-U", "postgres", "-D", str(self.data)])
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                   "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1",
                   "-w", "start"])
        self.dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def _run(self, argv) -> None:
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w",
                       "stop"])


@pytest.fixture
def pg_server():
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql)")
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install psycopg[binary])")
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="ct-deps-pg-"))  # pytest's tmp is private to root
    try:
        server = PostgresServer(base, bindir)
        yield server
        server.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
