"""``python -m queued_jobs`` / the ``queued-jobs`` console script."""

from __future__ import annotations

import sys

from . import __version__


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args in ([], ["--version"]):
        print(f"queued-jobs {__version__}")
        return 0
    print(
        f"queued-jobs: unknown command {args[0]!r}; commands arrive with the worker and CLI",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
