"""Queue names of an application: every queue made from a base name is a valid name."""

from __future__ import annotations

import pytest

from queued_jobs import QueueNames
from queued_jobs._names import queue_name_problem
from queued_jobs.errors import ConfigurationError
from queued_jobs.queue_names import DEAD_LETTER_SUFFIX, MAX_BASE_NAME


def test_the_longest_base_queue_name_still_makes_valid_queue_names_for_every_use() -> None:
    longest = QueueNames("q" * MAX_BASE_NAME)
    made = [band + suffix for band in longest.bands for suffix in ("", DEAD_LETTER_SUFFIX)]

    assert [queue_name_problem(name) for name in made] == [None] * 6
    assert all(len(name + "-poison") <= 63 for name in made)
    with pytest.raises(ConfigurationError, match="3-40 lowercase"):
        QueueNames("q" * (MAX_BASE_NAME + 1))
