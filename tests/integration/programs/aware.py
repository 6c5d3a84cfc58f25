"""Job-aware: reports progress, waits for the file its input names, then its result."""

import os
import time

from queued_jobs.commands import program

go = program.input()["go"]
program.progress(40, "copying files")
print("copying", flush=True)
deadline = time.monotonic() + 60
while not os.path.exists(go) and time.monotonic() < deadline:
    time.sleep(0.05)
program.result({"copied": 12})
