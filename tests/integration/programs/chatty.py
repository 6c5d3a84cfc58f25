"""Prints ``argv[1]`` lines of 100 characters to stdout (numbered), and one line to stderr
every 10,000 lines."""

import sys

lines = int(sys.argv[1])
out = sys.stdout
for number in range(lines):
    out.write(f"{number:08d} " + "x" * 90 + "\n")
    if number % 10_000 == 0:
        out.flush()
        print(f"stderr at {number}", file=sys.stderr, flush=True)
out.flush()
