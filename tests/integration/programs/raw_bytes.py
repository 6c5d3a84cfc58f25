"""Prints bytes that are not all UTF-8, and a character split between two writes."""

import sys
import time

out = sys.stdout.buffer
out.write(b"caf\xc3")
out.flush()
time.sleep(0.2)
out.write(b"\xa9 au lait\n")
out.write(b"bad \xff\xfe bytes\n")
out.write(b"\x1b[31mred\x1b[0m and a bell \x07\r\n")
out.write(b"no line end")
out.flush()
