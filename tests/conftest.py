from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from tests.support.azurite import Azurite, AzuriteProcess


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite process for the whole session, on free ports, with its own data."""
    with AzuriteProcess() as server:
        yield server


@pytest.fixture(scope="session")
def azurite_oauth() -> Iterator[Azurite]:
    """Another Azurite, serving HTTPS and accepting Microsoft Entra tokens: for
    identity-based connections."""
    with AzuriteProcess(oauth=True) as server:
        yield server


@pytest.fixture(autouse=True)
def _log_records_as_python_makes_them() -> Iterator[None]:
    """Put back the log record factory after each test: an app served in development
    mode marks every log line of the process (its own factory), as it should, but a test
    that served one in this process must not mark the next test's lines."""
    factory = logging.getLogRecordFactory()
    yield
    logging.setLogRecordFactory(factory)


_STARTED = time.time()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Name the folder of the pages' screenshots, when this run's browser tests took any."""
    from tests.support.browser import SCREENSHOTS

    found = SCREENSHOTS.glob("*.png") if SCREENSHOTS.is_dir() else ()
    taken = [path for path in found if path.stat().st_mtime >= _STARTED]
    if taken:
        terminalreporter.write_sep("-", "screenshots of the pages")
        terminalreporter.write_line(f"{len(taken)} screenshots in {SCREENSHOTS}")
