"""The README's install from a checkout works as written: a fresh clone, installed into a
fresh virtual environment, gives ``import queued_jobs`` and the ``queued-jobs`` command.

Offline and quick: the environment borrows this one's packages (a ``.pth`` line) instead of
downloading them, and the install builds with the build backend already here
(``--no-deps --no-build-isolation``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PIP = [sys.executable, "-m", "pip"]
#: The environment of a user's shell: nothing points Python at this checkout.
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


def install_block() -> list[str]:
    """The commands of the README's install block, without their comments."""
    [block] = [
        b
        for b in re.findall(r"```sh\n(.*?)```", README.read_text(), flags=re.DOTALL)
        if "pip install" in b
    ]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=ENV, **kwargs)  # type: ignore[call-overload]
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done


def test_the_readme_installs_a_fresh_clone_into_a_fresh_environment(tmp_path: Path) -> None:
    clone_line, install_line, help_line = install_block()
    assert clone_line.startswith("git clone ")
    assert clone_line.endswith(" path/to/queued-jobs")
    assert install_line == "pip install -e path/to/queued-jobs"
    assert help_line == "queued-jobs --help"

    checkout = tmp_path / "path" / "to" / "queued-jobs"
    run(["git", "clone", "--quiet", "--depth", "1", f"file://{ROOT}", str(checkout)])
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    python = venv / "bin" / "python"
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).stdout.strip()
    )
    # This environment's packages (pydantic, the Azure SDK, setuptools) without downloading
    # them; its own queued-jobs install is not seen: .pth files of a path added so are not read.
    (site / "borrowed.pth").write_text(sysconfig.get_path("purelib") + "\n")

    run(
        [*PIP, "--python", str(python), "install", "--quiet", "--no-index", "--no-deps",
         "--no-build-isolation", *install_line.split()[2:]],
        cwd=tmp_path,
    )  # fmt: skip

    imported = run([str(python), "-c", "import queued_jobs; print(queued_jobs.__file__)"], cwd="/")
    assert Path(imported.stdout.strip()).is_relative_to(checkout)
    helped = run([str(venv / "bin" / "queued-jobs"), "--help"], cwd="/")
    assert "queued-jobs: background jobs" in helped.stdout
    assert "queues" in helped.stdout
