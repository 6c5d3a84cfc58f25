"""The docs' examples: their fenced blocks, and running an example file as a reader would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

__all__ = ["ROOT", "code_blocks", "printed_by", "section"]

ROOT = Path(__file__).resolve().parents[2]


def code_blocks(doc: Path | str, language: str) -> list[str]:
    """The contents of the fenced blocks in ``language`` of ``doc`` (a file, or text such
    as a :func:`section`), in order."""
    text = doc.read_text() if isinstance(doc, Path) else doc
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def section(doc: Path, heading: str) -> str:
    """The section of ``doc`` under ``## heading``, to the next ``## `` heading."""
    text = doc.read_text()
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


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
