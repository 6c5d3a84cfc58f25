"""Benchmarks: queued-jobs side by side with the raw Azure SDK and Redis-based job queues.

Run with ``make bench`` (or ``python -m benchmarks``); see docs/performance.md.
"""
