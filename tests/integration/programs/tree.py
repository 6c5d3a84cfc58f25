"""Starts a child that starts a grandchild; the grandchild ignores SIGTERM. Writes the
three pids (one per line) to the file ``QJ_PIDS`` names, then everyone sleeps."""

import os
import subprocess
import sys
import time

IGNORER = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
CHILD = (
    "import subprocess, sys, time; "
    f"g = subprocess.Popen([sys.executable, '-c', {IGNORER!r}]); "
    "print(g.pid, flush=True); time.sleep(600)"
)

child = subprocess.Popen([sys.executable, "-c", CHILD], stdout=subprocess.PIPE, text=True)
grandchild = child.stdout.readline().strip()
pids = f"{os.getpid()}\n{child.pid}\n{grandchild}\n"
path = os.environ["QJ_PIDS"]
with open(path + ".tmp", "w") as file:
    file.write(pids)
os.replace(path + ".tmp", path)
print("all started", flush=True)
time.sleep(600)
