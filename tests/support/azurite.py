"""Start and stop a real Azurite process on free loopback ports with its own data folder."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.tls import self_signed_localhost

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / "node_modules" / ".bin" / "azurite"
#: Seconds Azurite keeps an idle connection open (its default, 5, is under the client's).
_KEEP_ALIVE = "120"
ACCOUNT = "devstoreaccount1"
# Azurite's published development key (the same for every Azurite install).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass(frozen=True)
class Azurite:
    blob_port: int
    queue_port: int
    table_port: int
    #: With HTTPS and ``--oauth basic``: the certificate that clients must trust.
    ca_file: Path | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.ca_file else "http"

    @property
    def connection_string(self) -> str:
        host = f"{self.scheme}://127.0.0.1"
        return (
            f"DefaultEndpointsProtocol={self.scheme};AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={host}:{self.blob_port}/{ACCOUNT};"
            f"QueueEndpoint={host}:{self.queue_port}/{ACCOUNT};"
            f"TableEndpoint={host}:{self.table_port}/{ACCOUNT};"
        )

    def service_uri(self, service: str) -> str:
        """The service's URI (path-style: Azurite serves the account under a path)."""
        port = {"blob": self.blob_port, "queue": self.queue_port, "table": self.table_port}
        return f"{self.scheme}://127.0.0.1:{port[service]}/{ACCOUNT}"


def free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _wait_for_ports(process: subprocess.Popen[bytes], ports: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ports)
    while pending:
        if process.poll() is not None:
            raise RuntimeError(f"Azurite exited with code {process.returncode} while starting")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Azurite did not open ports {pending} within {timeout}s")
        try:
            socket.create_connection(("127.0.0.1", pending[0]), timeout=0.2).close()
            pending.pop(0)
        except OSError:
            time.sleep(0.05)


class AzuriteProcess:
    """``with AzuriteProcess() as azurite: azurite.connection_string``."""

    def __init__(self, *, startup_timeout: float = 30.0, oauth: bool = False) -> None:
        """``oauth``: serve HTTPS with a self-signed certificate and accept Microsoft Entra
        bearer tokens (``--oauth basic``) besides the account key."""
        if not AZURITE.exists():
            raise RuntimeError(
                f"{AZURITE} is missing: run `npm ci` (or `make test`, which does) first"
            )
        self._timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._location = ""
        self._oauth = oauth
        self.server: Azurite | None = None

    def start(self) -> Azurite:
        self._location = tempfile.mkdtemp(prefix="azurite-")
        blob, queue, table = free_ports(3)
        args = [
            str(AZURITE),
            "--silent",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--loose",
            "--location", self._location,
            "--blobHost", "127.0.0.1", "--blobPort", str(blob),
            "--queueHost", "127.0.0.1", "--queuePort", str(queue),
            "--tableHost", "127.0.0.1", "--tablePort", str(table),
            # Keep idle connections open longer than the client does (aiohttp: 15 s), as
            # Azure's front ends do: at Azurite's 5 s a pooled connection can be closed
            # under a request, which then fails after its retries.
            "--blobKeepAliveTimeout", _KEEP_ALIVE,
            "--queueKeepAliveTimeout", _KEEP_ALIVE,
            "--tableKeepAliveTimeout", _KEEP_ALIVE,
        ]  # fmt: skip
        tls = self_signed_localhost(Path(self._location)) if self._oauth else None
        if tls is not None:
            args += ["--cert", str(tls.certificate), "--key", str(tls.key), "--oauth", "basic"]
        self._process = subprocess.Popen(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_ports(self._process, [blob, queue, table], self._timeout)
        self.server = Azurite(blob, queue, table, tls.certificate if tls else None)
        return self.server

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._location:
            shutil.rmtree(self._location, ignore_errors=True)

    def __enter__(self) -> Azurite:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
