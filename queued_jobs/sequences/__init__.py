"""Multi-step sequences: ordered steps, each starting one or more jobs at once; a step's
exit rule (wait for all, for any, or for none) and its outcome (success, failure, mixed)
lead to the next step, to another (loops bounded by ``max_iterations``) or to the end.

The record and the store live here; the engine that advances sequences as their jobs end
(``engine``), the sweep that finishes what a crash left undone (``sweep``) and the client
(``client``) are imported from their modules (the repositories import this package).
"""

from .model import (
    MAX_JOBS_PER_STEP,
    MAX_RUNS_KEPT,
    MAX_SEQUENCE_BYTES,
    MAX_STEPS,
    PREVIOUS_KEY,
    Action,
    ExitRule,
    Outcome,
    Run,
    RunJob,
    Sequence,
    SequenceStatus,
    Step,
    StepJob,
    parse_action,
)
from .store import SequenceStore

__all__ = [
    "MAX_JOBS_PER_STEP",
    "MAX_RUNS_KEPT",
    "MAX_SEQUENCE_BYTES",
    "MAX_STEPS",
    "PREVIOUS_KEY",
    "Action",
    "ExitRule",
    "Outcome",
    "Run",
    "RunJob",
    "Sequence",
    "SequenceStatus",
    "SequenceStore",
    "Step",
    "StepJob",
    "parse_action",
]
