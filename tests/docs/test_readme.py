"""The README's quickstart works as written: its worker command, then its script."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
BIN = Path(sys.executable).parent


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)


def test_the_quickstart_runs_a_job_through_a_worker_and_prints_its_result(tmp_path: Path) -> None:
    [script] = blocks("python")
    commands = [b for b in blocks("sh") if "quickstart" in b]
    assert len(commands) == 1
    worker_line, run_line = (line.split("#")[0].strip() for line in commands[0].splitlines())
    assert worker_line == "queued-jobs worker quickstart:app &"
    assert run_line == "python quickstart.py"
    (tmp_path / "quickstart.py").write_text(script)
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}  # no PYTHONPATH: as a user runs it

    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [str(BIN / "queued-jobs"), "worker", "quickstart:app"],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        done = subprocess.run(
            [sys.executable, "quickstart.py"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        worker.send_signal(signal.SIGTERM)
        stopped = worker.wait(timeout=30)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "succeeded Hello, Ada! 1"
    assert stopped == 0, (tmp_path / "worker.log").read_text()
