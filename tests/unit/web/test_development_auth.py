"""Development mode: on only by its name, loud when built, and still careful with what the
headers it trusts hold."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from queued_jobs.errors import ConfigurationError, NotAuthenticated
from queued_jobs.web.auth import DevelopmentAuth, Principal, Role
from queued_jobs.web.auth.development import DEVELOPMENT_MODE_HEADER, DEVELOPMENT_MODE_VALUE


@pytest.mark.parametrize("enabled", [True, "yes", "Development", "dev", "", "development "])
def test_development_mode_is_refused_unless_named(enabled: Any) -> None:
    with pytest.raises(ConfigurationError, match="switched on only by its name"):
        DevelopmentAuth(enabled)


def test_development_mode_warns_when_built(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "queued_jobs.web.auth"):
        DevelopmentAuth("development")

    assert "development mode is on" in caplog.text


async def test_a_request_naming_nobody_is_the_developer_an_operator() -> None:
    principal = await DevelopmentAuth("development").authenticate({})

    assert principal == Principal(
        "developer", frozenset({Role.USER, Role.OPERATOR}), "development", "developer"
    )


async def test_a_request_names_its_user_and_roles() -> None:
    principal = await DevelopmentAuth("development").authenticate(
        {"X-Queued-Jobs-User": "ada", "x-queued-jobs-roles": " Reader , user,"}
    )

    assert principal == Principal("ada", frozenset({Role.USER, Role.READER}), "development", "ada")


async def test_an_empty_roles_header_makes_a_plain_user() -> None:
    principal = await DevelopmentAuth("development").authenticate({"X-Queued-Jobs-Roles": ""})

    assert principal is not None
    assert principal.roles == {Role.USER}


async def test_other_defaults_can_be_chosen() -> None:
    auth = DevelopmentAuth("development", user="grace", roles=frozenset({Role.READER}))

    principal = await auth.authenticate({})

    assert principal is not None
    assert (principal.id, principal.roles) == ("grace", frozenset({Role.USER, Role.READER}))


@pytest.mark.parametrize("user", ["", "a" * 300, "ada\x00", "ada\x1b[2J", "\ud800"])
async def test_a_user_no_job_could_have_is_refused(user: str) -> None:
    with pytest.raises(NotAuthenticated, match="X-Queued-Jobs-User header"):
        await DevelopmentAuth("development").authenticate({"X-Queued-Jobs-User": user})


@pytest.mark.parametrize("roles", ["admin", "operator,root", "o" * 1000])
async def test_roles_that_do_not_exist_are_refused(roles: str) -> None:
    with pytest.raises(NotAuthenticated, match="X-Queued-Jobs-Roles"):
        await DevelopmentAuth("development").authenticate({"X-Queued-Jobs-Roles": roles})


def test_the_response_marker_is_a_header_name_and_value() -> None:
    assert DEVELOPMENT_MODE_HEADER == "X-Queued-Jobs-Development-Mode"
    assert DEVELOPMENT_MODE_VALUE.isascii()
    assert DEVELOPMENT_MODE_VALUE.isprintable()


def test_a_default_user_no_job_could_have_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="the development user cannot own jobs"):
        DevelopmentAuth("development", user="")
