"""A throwaway ``redis-server`` on a free loopback port, for the Redis-based peers.

``with RedisServer() as url:`` installs Debian's ``redis-server`` if it is missing (as root),
starts one with no persistence in its own temporary directory, waits until it answers PING and
stops it on the way out, errors included. Needs no Redis client: PING goes over a raw socket.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["RedisServer", "RedisUnavailable", "ensure_redis_server"]

INSTALL_HINT = (
    "redis-server is not installed; install it with "
    "`sudo apt-get install -y --no-install-recommends redis-server` "
    "(Debian/Ubuntu) or your system's package manager, then run the benchmarks again"
)
STARTUP_TIMEOUT = 15.0
STOP_GRACE = 5.0


class RedisUnavailable(RuntimeError):
    """redis-server is missing and could not be installed, or did not start."""


def _quiet(command: list[str]) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    out = subprocess.DEVNULL
    return subprocess.run(command, env=env, stdout=out, stderr=out, check=False).returncode == 0


def _apt_install() -> bool:
    install = ["apt-get", "install", "-y", "--no-install-recommends", "redis-server"]
    if _quiet(install):
        return True
    # The package lists may be missing or stale: refresh them once and try again.
    _quiet(["apt-get", "update"])
    return _quiet(install)


def ensure_redis_server() -> str:
    """The path of ``redis-server``, installing Debian's package first if need be (root only)."""
    found = shutil.which("redis-server")
    if found:
        return found
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RedisUnavailable(INSTALL_HINT)
    if not _apt_install() or (found := shutil.which("redis-server")) is None:
        raise RedisUnavailable(f"`apt-get install redis-server` failed. {INSTALL_HINT}")
    return found


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _start(binary: str, port: int, directory: Path) -> subprocess.Popen[bytes]:
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(directory), "--daemonize", "no"]
    log = (directory / "redis.log").open("wb")
    try:
        return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()  # the child holds its own copy


def _wait_ready(process: subprocess.Popen[bytes], port: int, directory: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not _answers_ping(port):
        if process.poll() is not None or time.monotonic() > deadline:
            log = (directory / "redis.log").read_text(errors="replace")[-2000:]
            raise RedisUnavailable(f"redis-server did not answer PING on port {port}:\n{log}")
        time.sleep(0.05)


@contextmanager
def RedisServer() -> Iterator[str]:  # noqa: N802 - reads as the server it manages
    """Run a private redis-server for the duration of the block; yields its ``redis://`` URL."""
    binary = ensure_redis_server()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as tmp:
        port = _free_port()
        process = _start(binary, port, Path(tmp))
        try:
            _wait_ready(process, port, Path(tmp))
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            _stop(process)


if __name__ == "__main__":
    with RedisServer() as url:
        print(url)
