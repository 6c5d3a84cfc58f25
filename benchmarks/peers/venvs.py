"""One virtualenv per peer under ``benchmarks/.venvs/<peer>``, from its pinned requirements.

A venv is (re)created only when ``requirements/<peer>.txt`` changed since it was built: its
SHA-256 is kept in the venv as a stamp, written once the install succeeded. The peers never
enter our own environment.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["REQUIREMENTS", "VENVS", "VenvError", "ensure_venv"]

PEERS_DIR = Path(__file__).resolve().parent
REQUIREMENTS = PEERS_DIR / "requirements"
VENVS = PEERS_DIR.parent / ".venvs"
STAMP = ".requirements.sha256"
#: Seconds each of ``venv`` and ``pip install`` may take (a cold install downloads wheels).
INSTALL_TIMEOUT = 600.0


class VenvError(RuntimeError):
    """A peer's venv could not be created or its requirements installed."""


def _run(command: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise VenvError(f"timed out after {timeout:.0f} s: {' '.join(command)}") from None
    if done.returncode != 0:
        tail = (done.stderr or done.stdout)[-2000:]
        raise VenvError(f"exit {done.returncode}: {' '.join(command)}\n{tail}")


def ensure_venv(peer: str, *, timeout: float = INSTALL_TIMEOUT) -> Path:
    """The python of ``peer``'s venv, built first if it is missing or out of date."""
    requirements = REQUIREMENTS / f"{peer}.txt"
    if not requirements.is_file():
        raise VenvError(f"no requirements file {requirements}")
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    venv = VENVS / peer
    python = venv / "bin" / "python"
    stamp = venv / STAMP
    if python.exists() and stamp.exists() and stamp.read_text().strip() == digest:
        return python
    shutil.rmtree(venv, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(venv)], timeout)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "--no-input", "-r", str(requirements)], timeout)
    stamp.write_text(digest + "\n")
    return python
