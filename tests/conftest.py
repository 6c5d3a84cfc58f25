from __future__ import annotations

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
