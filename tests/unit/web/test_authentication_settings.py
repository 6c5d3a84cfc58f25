"""Authentication from app settings: nothing open without them, every scheme from its
settings, and settings that cannot work refused before the first request."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from queued_jobs.errors import ConfigurationError
from queued_jobs.web.auth import (
    ApiKeys,
    BearerTokens,
    DevelopmentAuth,
    EasyAuth,
    Role,
    authentication_from_settings,
    new_api_key,
)
from tests.support.oidc import AUDIENCE, Issuer

ON_APP_SERVICE = {"WEBSITE_AUTH_ENABLED": "True"}
ENTRA = "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0"


@pytest.mark.parametrize("value", [None, "", " , "])
def test_no_scheme_configured_is_refused(value: str | None) -> None:
    settings = {} if value is None else {"QUEUED_JOBS_WEB_AUTH": value}

    with pytest.raises(ConfigurationError, match="no authentication configured: set QUEUED_"):
        authentication_from_settings(settings)


def test_the_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUED_JOBS_WEB_AUTH", raising=False)

    with pytest.raises(ConfigurationError, match="no authentication configured"):
        authentication_from_settings()


def test_an_unknown_scheme_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(ConfigurationError) as refusal:
        authentication_from_settings({"QUEUED_JOBS_WEB_AUTH": "bearer,oauth"})

    assert "'oauth'" in str(refusal.value)
    assert "easy-auth, bearer, api-keys, development" in str(refusal.value)


def test_a_scheme_named_twice_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="twice"):
        authentication_from_settings({"QUEUED_JOBS_WEB_AUTH": "development, Development"})


async def test_the_schemes_are_built_in_the_order_named(issuer: Issuer) -> None:
    key, stored = new_api_key("ada", {Role.OPERATOR})
    auth = authentication_from_settings(
        {
            **ON_APP_SERVICE,
            "QUEUED_JOBS_WEB_AUTH": "easy-auth, bearer, api-keys",
            "QUEUED_JOBS_JWT_ISSUER": issuer.url,
            "QUEUED_JOBS_JWT_AUDIENCE": f"api://other, {AUDIENCE}",
            "QUEUED_JOBS_JWT_OWNER_CLAIM": "oid",
            "QUEUED_JOBS_API_KEYS": json.dumps([stored.to_json()]),
        }
    )

    assert [type(a) for a in auth.authenticators] == [EasyAuth, BearerTokens, ApiKeys]
    bearer = auth.authenticators[1]
    assert isinstance(bearer, BearerTokens)
    assert bearer.audiences == ("api://other", AUDIENCE)
    assert (await auth.principal({"X-API-Key": key})).acts_on_all
    token_user = await auth.principal({"Authorization": f"Bearer {issuer.token()}"})
    assert token_user.id == issuer.claims()["oid"]


def test_bearer_settings_are_read_with_their_defaults() -> None:
    auth = authentication_from_settings(
        {
            "QUEUED_JOBS_WEB_AUTH": "bearer",
            "QUEUED_JOBS_JWT_ISSUER": ENTRA,
            "QUEUED_JOBS_JWT_AUDIENCE": "api://queued-jobs",
            "QUEUED_JOBS_JWT_JWKS_URL": "https://login.microsoftonline.com/common/discovery/keys",
            "QUEUED_JOBS_JWT_ROLES_CLAIM": "groups",
        }
    )

    bearer = auth.authenticators[0]
    assert isinstance(bearer, BearerTokens)
    assert (bearer.issuer, bearer.owner_claim, bearer.roles_claim) == (ENTRA, "sub", "groups")
    assert bearer.keys.jwks_url == "https://login.microsoftonline.com/common/discovery/keys"


def test_bearer_without_pyjwt_installed_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("jwt", "queued_jobs.web.auth.bearer", "queued_jobs.web.auth.signing_keys"):
        monkeypatch.setitem(sys.modules, name, None)  # its import now raises

    with pytest.raises(ConfigurationError, match=re.escape("pip install 'queued-jobs[web]'")):
        authentication_from_settings(
            {
                "QUEUED_JOBS_WEB_AUTH": "bearer",
                "QUEUED_JOBS_JWT_ISSUER": ENTRA,
                "QUEUED_JOBS_JWT_AUDIENCE": "api://queued-jobs",
            }
        )


@pytest.mark.parametrize("missing", ["QUEUED_JOBS_JWT_ISSUER", "QUEUED_JOBS_JWT_AUDIENCE"])
def test_bearer_without_an_issuer_or_audience_is_refused(missing: str) -> None:
    settings = {
        "QUEUED_JOBS_WEB_AUTH": "bearer",
        "QUEUED_JOBS_JWT_ISSUER": ENTRA,
        "QUEUED_JOBS_JWT_AUDIENCE": "api://queued-jobs",
    }
    del settings[missing]

    with pytest.raises(ConfigurationError, match=missing):
        authentication_from_settings(settings)


@pytest.mark.parametrize("enabled", [None, "False", ""])
def test_easy_auth_is_refused_where_app_service_authentication_is_not_on(
    enabled: str | None,
) -> None:
    settings = {"QUEUED_JOBS_WEB_AUTH": "easy-auth"}
    if enabled is not None:
        settings["WEBSITE_AUTH_ENABLED"] = enabled

    with pytest.raises(ConfigurationError, match="WEBSITE_AUTH_ENABLED is not True"):
        authentication_from_settings(settings)


def test_easy_auth_settings_and_the_role_map_are_read() -> None:
    auth = authentication_from_settings(
        {
            **ON_APP_SERVICE,
            "QUEUED_JOBS_WEB_AUTH": "easy-auth",
            "QUEUED_JOBS_EASY_AUTH_OWNER_CLAIM": "oid",
            "QUEUED_JOBS_EASY_AUTH_PROVIDERS": "aad, github",
            "QUEUED_JOBS_WEB_ROLE_MAP": json.dumps({"Admins": "Operator", "Audit": "reader"}),
        }
    )

    easy = auth.authenticators[0]
    assert isinstance(easy, EasyAuth)
    assert easy.owner_claim == "oid"
    assert easy.identity_providers == frozenset({"aad", "github"})
    assert dict(easy.role_map) == {"Admins": Role.OPERATOR, "Audit": Role.READER}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("operator", "must be a JSON object"),
        ('["a"]', "must be a JSON object"),
        ('{"Admins": "root"}', "'root', which is not a role"),
        ('{"": "reader"}', "non-empty strings"),
        ('{"Admins": 1}', "which is not a role"),
    ],
)
def test_a_role_map_that_cannot_work_is_refused(value: str, problem: str) -> None:
    settings = {
        **ON_APP_SERVICE,
        "QUEUED_JOBS_WEB_AUTH": "easy-auth",
        "QUEUED_JOBS_WEB_ROLE_MAP": value,
    }

    with pytest.raises(ConfigurationError, match="QUEUED_JOBS_WEB_ROLE_MAP") as refusal:
        authentication_from_settings(settings)
    assert problem in str(refusal.value)


async def test_api_keys_are_read_from_the_setting_and_the_file_together(tmp_path: Path) -> None:
    in_setting, one = new_api_key("ada")
    in_file, two = new_api_key("grace")
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([two.to_json()]), encoding="utf-8")

    auth = authentication_from_settings(
        {
            "QUEUED_JOBS_WEB_AUTH": "api-keys",
            "QUEUED_JOBS_API_KEYS": json.dumps([one.to_json()]),
            "QUEUED_JOBS_API_KEYS_FILE": str(path),
        }
    )

    assert (await auth.principal({"X-API-Key": in_setting})).id == "ada"
    assert (await auth.principal({"X-API-Key": in_file})).id == "grace"


def test_api_keys_without_keys_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="QUEUED_JOBS_API_KEYS_FILE"):
        authentication_from_settings({"QUEUED_JOBS_WEB_AUTH": "api-keys"})


def test_a_malformed_api_key_entry_is_refused_naming_the_setting_and_entry() -> None:
    with pytest.raises(ConfigurationError, match=r"^QUEUED_JOBS_API_KEYS: entry 1: "):
        authentication_from_settings(
            {"QUEUED_JOBS_WEB_AUTH": "api-keys", "QUEUED_JOBS_API_KEYS": '[{"owner": "ada"}]'}
        )


def test_development_mode_is_switched_on_by_its_name() -> None:
    auth = authentication_from_settings(
        {"QUEUED_JOBS_WEB_AUTH": "api-keys,development", "QUEUED_JOBS_API_KEYS": "[]"}
    )

    assert isinstance(auth.authenticators[-1], DevelopmentAuth)
    assert auth.development


def test_development_mode_is_refused_on_app_service_in_azure() -> None:
    with pytest.raises(ConfigurationError, match="WEBSITE_INSTANCE_ID is set"):
        authentication_from_settings(
            {"QUEUED_JOBS_WEB_AUTH": "development", "WEBSITE_INSTANCE_ID": "a1b2c3"}
        )


def test_development_before_another_scheme_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="put development last"):
        authentication_from_settings(
            {"QUEUED_JOBS_WEB_AUTH": "development,api-keys", "QUEUED_JOBS_API_KEYS": "[]"}
        )


def test_stray_and_unused_settings_are_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, "queued_jobs.settings"):
        authentication_from_settings(
            {
                "QUEUED_JOBS_WEB_AUTH": "development",
                "QUEUED_JOBS_JWT_OWNER_CLAM": "oid",
                "QUEUED_JOBS_API_KEYS": "[]",
            }
        )

    assert "QUEUED_JOBS_JWT_OWNER_CLAM is not one queued-jobs reads" in caplog.text
    assert "QUEUED_JOBS_API_KEYS is set, but QUEUED_JOBS_WEB_AUTH does not name api-keys" in (
        caplog.text
    )
