"""``python -m queued_jobs`` and the ``queued-jobs`` console script: see :mod:`queued_jobs.cli`."""

from .cli import main

if __name__ == "__main__":
    main()
