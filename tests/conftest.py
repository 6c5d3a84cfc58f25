from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.azurite import Azurite, AzuriteProcess


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite process for the whole session, on free ports, with its own data."""
    with AzuriteProcess() as server:
        yield server
