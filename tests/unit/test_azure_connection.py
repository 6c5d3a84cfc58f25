"""Connection strings and SDK client options, as the Azure adapters build them."""

from __future__ import annotations

import pytest

from queued_jobs._azure.connection import (
    DEVELOPMENT_STORAGE,
    expand_connection_string,
    sdk_options,
)
from queued_jobs.errors import ConfigurationError

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture
def no_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    return monkeypatch


def test_without_a_proxy_the_sdk_skips_its_per_request_environment_lookups(
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    no_proxy_environment.setenv("NO_PROXY", "localhost")

    assert sdk_options({"retry_total": 1}) == {"retry_total": 1, "use_env_settings": False}


def test_a_proxy_in_the_environment_keeps_the_sdk_reading_it(
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    no_proxy_environment.setenv("HTTPS_PROXY", "http://proxy.example:3128")

    assert sdk_options(None) == {"use_env_settings": True}


def test_the_callers_choice_of_environment_settings_wins(
    no_proxy_environment: pytest.MonkeyPatch,
) -> None:
    assert sdk_options({"use_env_settings": True}) == {"use_env_settings": True}


def test_development_storage_is_spelled_out_and_nonsense_is_refused() -> None:
    assert expand_connection_string(" UseDevelopmentStorage=true ") == DEVELOPMENT_STORAGE
    with pytest.raises(ConfigurationError, match="neither AccountName nor endpoints"):
        expand_connection_string("Foo=bar")
