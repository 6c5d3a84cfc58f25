"""The docs' examples: their fenced blocks, and running an example file as a reader would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "code_blocks", "printed_by"]

ROOT = Path(__file__).resolve().parents[2]


def code_blocks(doc: Path, language: str) -> list[str]:
    """The contents of ``doc``'s fenced blocks in ``language``, in order."""
    return re.findall(rf"```{language}\n(.*?)```", doc.read_text(), flags=re.DOTALL)


def printed_by(example: Path, *, timeout: float = 120) -> str:
    """What ``python example`` prints (it must exit 0), with the project importable."""
    done = subprocess.run(
        [sys.executable, str(example)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
