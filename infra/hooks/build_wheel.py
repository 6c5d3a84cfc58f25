"""Build the queued-jobs wheel that function_app/requirements.txt installs, from a clean copy.

The azd ``prepackage`` hook (azure.yaml) runs it in function_app/:

    python3 ../infra/hooks/build_wheel.py wheels

It copies only what the wheel is built from (pyproject.toml, README.md, LICENSE and the
``queued_jobs`` package, without caches) into a temporary folder and builds there, so
that a ``build/`` or ``*.egg-info`` folder left in the checkout by an earlier build cannot
slip stale files into the wheel. The output folder is emptied of wheels first, and the
wheel built must be the one requirements.txt names, or the hook fails.

Extra arguments go to ``pip wheel`` (the tests pass ``--no-build-isolation --no-index``
to build offline). Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: What the wheel is built from; nothing else of the checkout is copied.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "queued_jobs")
_CACHES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.egg-info", "build")
_WHEEL_LINE = re.compile(r"^\./wheels/(?P<file>queued_jobs-[^\s/]+\.whl)\s*$", re.MULTILINE)


def wanted_wheel(requirements: Path) -> str:
    """The wheel file that ``requirements`` installs (``./wheels/<file>``)."""
    found = _WHEEL_LINE.findall(requirements.read_text(encoding="utf-8"))
    if len(found) != 1:
        raise SystemExit(f"{requirements} should name one ./wheels/queued_jobs-*.whl line")
    return str(found[0])


def build(source: Path, out: Path, pip_args: list[str]) -> Path:
    """The wheel of ``source`` built from a clean copy into ``out`` (emptied of wheels)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="queued-jobs-wheel-") as temporary:
        copy = Path(temporary) / "src"
        copy.mkdir()
        for name in SOURCES:
            path = source / name
            if path.is_dir():
                shutil.copytree(path, copy / name, ignore=_CACHES)
            else:
                shutil.copy2(path, copy / name)
        command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out)]
        subprocess.run([*command, *pip_args, str(copy)], check=True)
    wheels = sorted(out.glob("*.whl"))
    if len(wheels) != 1:
        raise SystemExit(f"expected one wheel in {out}, found {[w.name for w in wheels]}")
    return wheels[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder for the wheel (function_app/wheels)")
    parser.add_argument("--source", type=Path, default=ROOT, help="the checkout to build")
    parser.add_argument(
        "--requirements",
        type=Path,
        default=ROOT / "function_app" / "requirements.txt",
        help="the requirements file whose ./wheels/ line the wheel must match",
    )
    options, pip_args = parser.parse_known_args(argv)
    wheel = build(options.source, options.out, pip_args)
    wanted = wanted_wheel(options.requirements)
    if wheel.name != wanted:
        raise SystemExit(
            f"built {wheel.name} but {options.requirements} installs {wanted}: update the "
            "./wheels/ line of requirements.txt to the version in pyproject.toml"
        )
    print(f"built {wheel}")


if __name__ == "__main__":
    main()
