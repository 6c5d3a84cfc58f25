"""Exits with the code ``argv[attempt]`` (the last for later attempts)."""

import os
import sys

codes = [int(code) for code in sys.argv[1:]]
attempt = int(os.environ["QUEUED_JOBS_ATTEMPT"])
print(f"attempt {attempt}")
sys.exit(codes[min(attempt, len(codes)) - 1])
