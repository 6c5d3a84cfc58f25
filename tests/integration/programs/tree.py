"""Starts a child that starts a grandchild; the grandchild ignores SIGTERM. Writes the
three pids (one per line) to the file ``QJ_PIDS`` names, then everyone waits for a signal
(``signal.pause``): they run until they are stopped."""

import os
import signal
import subprocess
import sys

IGNORER = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); signal.pause()"
CHILD = (
    "import signal, subprocess, sys; "
    f"g = subprocess.Popen([sys.executable, '-c', {IGNORER!r}]); "
    "print(g.pid, flush=True); signal.pause()"
)

child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
grandchild = child.stdout.readline().strip()
pids = f"{os.getpid()}\n{child.pid}\n{grandchild}\n"
path = os.environ["QJ_PIDS"]
with open(path + ".tmp", "w") as file:
    file.write(pids)
os.replace(path + ".tmp", path)
print("all started", flush=True)
signal.pause()
