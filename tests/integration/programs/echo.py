"""Job-aware: reports its arguments, a few environment variables and its folder as its
result, exactly as it got them."""

import os
import sys

from queued_jobs.commands import program

request = program.request()
program.result(
    {
        "argv": sys.argv[1:],
        "greeting": os.environ.get("GREETING"),
        "inherited": sorted(name for name in os.environ if name.startswith("QJ_TEST_")),
        "job_id": program.job_id(),
        "attempt": program.attempt(),
        "input": request.get("input"),
        "cwd": os.getcwd(),
    }
)
print("said it all")
