"""Calls from pages of other sites: refused by browsers unless the app names their origin
(``QUEUED_JOBS_WEB_CORS_ORIGINS``); the package's assets, code for anyone, load anywhere."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from queued_jobs.errors import ConfigurationError
from queued_jobs.web.settings import CORS_SETTING, WebSettings
from tests.support.web import ApiServer, start_api_server

APP = "tests.integration.jobs:app"
TRUSTED = "https://app.example.com"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    folder = tmp_path_factory.mktemp("cors")
    env = {
        "QJ_TEST_EVENTS": str(folder / "events.log"),
        "QJ_TEST_QUEUE": "cors",
        "QJ_TEST_SQLITE": str(folder / "jobs.db"),
        CORS_SETTING: f"{TRUSTED}, http://localhost:3000",
    }
    started = start_api_server(APP, env, folder / "api.log")
    yield started
    started.stop()


def test_a_named_origin_may_call_with_its_credentials(server: ApiServer) -> None:
    with server.client(None) as anonymous:
        preflight = anonymous.options(
            "/jobs",
            headers={
                "Origin": TRUSTED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type, last-event-id",
            },
        )
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == TRUSTED
    assert preflight.headers["Access-Control-Allow-Credentials"] == "true"
    with server.client("alice") as alice:
        listed = alice.get("/jobs", headers={"Origin": TRUSTED})
    assert listed.status_code == 200
    assert listed.headers["Access-Control-Allow-Origin"] == TRUSTED


def test_another_origin_gets_no_permission_to_read(server: ApiServer) -> None:
    with server.client("alice") as alice:
        listed = alice.get("/jobs", headers={"Origin": "https://evil.example"})
        preflight = alice.options(
            "/jobs",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
        )
    assert "Access-Control-Allow-Origin" not in listed.headers
    assert preflight.status_code == 400
    assert "Access-Control-Allow-Origin" not in preflight.headers


def test_the_package_s_assets_load_from_any_origin_without_credentials(server: ApiServer) -> None:
    with server.client(None) as anonymous:
        script = anonymous.get("/assets/bell.js", headers={"Origin": "https://any.example"})
    assert script.status_code == 200
    assert script.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "origin", ["*", "https://app.example.com/", "app.example.com", "ftp://x.example", "https://"]
)
def test_an_origin_that_is_not_a_scheme_and_host_is_refused(origin: str) -> None:
    with pytest.raises(ConfigurationError, match="never '\\*'"):
        WebSettings(cors_origins=(origin,))


def test_without_the_setting_no_origin_is_named() -> None:
    assert WebSettings.from_settings({}).cors_origins == ()
    named = WebSettings.from_settings({CORS_SETTING: " https://a.example ,, http://b:8080"})
    assert named.cors_origins == ("https://a.example", "http://b:8080")
