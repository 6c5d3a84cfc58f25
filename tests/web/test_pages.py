"""The dashboard page and the package's assets over real HTTP: who gets the page, with
which headers, and how assets are cached, compressed and refused."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from queued_jobs.web.assets import package_assets
from tests.support.web import ApiServer, start_api_server

APP = "tests.integration.jobs:app"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """``queued-jobs serve`` on a SQLite file: nothing here depends on the backend."""
    folder = tmp_path_factory.mktemp("pages")
    env = {
        "QJ_TEST_EVENTS": str(folder / "events.log"),
        "QJ_TEST_QUEUE": "pages",
        "QJ_TEST_SQLITE": str(folder / "jobs.db"),
    }
    started = start_api_server(APP, env, folder / "api.log")
    yield started
    started.stop()


def _asset_paths(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="(/assets/[^"]+)"', page)


def test_the_dashboard_without_credentials_is_refused_with_a_challenge(server: ApiServer) -> None:
    with server.client(None) as anonymous:
        response = anonymous.get("/dashboard")
    assert response.status_code == 401
    assert "WWW-Authenticate" in response.headers
    assert response.headers["content-type"].startswith("text/html")
    assert "Sign in to see the dashboard" in response.text


def test_an_end_user_gets_a_page_saying_the_dashboard_is_not_theirs(server: ApiServer) -> None:
    with server.client("alice") as alice:
        response = alice.get("/dashboard")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "The dashboard is for operators and readers" in response.text
    assert "main.js" not in response.text  # no dashboard code for them


@pytest.mark.parametrize(("caller", "owner"), [("operator", "olga"), ("reader", "rita")])
def test_operators_and_readers_get_the_page_under_a_strict_policy(
    server: ApiServer, caller: str, owner: str
) -> None:
    with server.client(caller) as http:
        response = http.get("/dashboard")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert f'<p class="caller" id="caller">{owner}</p>' in response.text
    assert "<script>" not in response.text
    assert "style=" not in response.text
    digest = package_assets().digest
    assets = _asset_paths(response.text)
    assert f"/assets/{digest}/dashboard/main.js" in assets
    assert f"/assets/{digest}/dashboard/dashboard.css" in assets


def test_every_asset_the_page_names_is_served_immutable_under_its_digest(
    server: ApiServer,
) -> None:
    with server.client("operator") as http:
        page = http.get("/dashboard").text
    with server.client(None) as anonymous:  # assets need no principal
        for path in _asset_paths(page):
            response = anonymous.get(path)
            assert response.status_code == 200, path
            assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["ETag"]


def test_every_dashboard_module_is_served_as_javascript(server: ApiServer) -> None:
    assets = package_assets()
    modules = [p for p in assets.files if p.startswith("dashboard/") and p.endswith(".js")]
    assert "dashboard/main.js" in modules
    assert "dashboard/views/jobs.js" in modules
    with server.client(None) as anonymous:
        for path in modules:
            response = anonymous.get(f"/assets/{assets.digest}/{path}")
            assert response.status_code == 200, path
            assert response.headers["content-type"] == "text/javascript; charset=utf-8"


def test_an_asset_without_the_digest_is_revalidated_by_its_etag(server: ApiServer) -> None:
    with server.client(None) as anonymous:
        first = anonymous.get("/assets/dashboard/main.js")
        assert first.status_code == 200
        assert first.headers["Cache-Control"] == "public, max-age=300, must-revalidate"
        again = anonymous.get(
            "/assets/dashboard/main.js", headers={"If-None-Match": first.headers["ETag"]}
        )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == first.headers["ETag"]


def test_an_asset_is_sent_compressed_to_a_client_that_accepts_gzip(server: ApiServer) -> None:
    path = f"/assets/{package_assets().digest}/dashboard/dashboard.css"
    with httpx.Client(base_url=server.base_url, timeout=30) as raw:
        plain = raw.get(path, headers={"Accept-Encoding": "identity"})
        packed = raw.get(path, headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding"
    assert packed.content == plain.content  # httpx decoded it
    assert int(packed.headers["Content-Length"]) < len(plain.content)


def _get_as_written(server: ApiServer, path: str) -> tuple[int, str, str]:
    """GET ``path`` exactly as written (HTTP clients fold ``..`` away before sending)."""
    url = httpx.URL(server.base_url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("content-type") or "", response.read().decode()
    finally:
        connection.close()


@pytest.mark.parametrize(
    "path",
    [
        "/assets/nothing.js",
        "/assets/dashboard/nothing.js",
        "/assets/0123456789ab/dashboard/main.js",
        "/assets/dashboard/../../routes/dashboard.py",
        "/assets/../templates/dashboard.html",
        "/assets/dashboard/../../../pyproject.toml",
        "/assets/%2e%2e/templates/dashboard.html",
        "/assets/..%2f..%2fpyproject.toml",
        "/assets/dashboard/main.js/..",
    ],
)
def test_an_unknown_asset_or_a_path_out_of_the_assets_is_not_found(
    server: ApiServer, path: str
) -> None:
    status, kind, body = _get_as_written(server, path)
    assert status == 404, path
    assert kind.startswith("application/json")
    assert json.loads(body)["code"] == "not_found"


def test_the_package_s_assets_are_the_files_in_its_static_folder() -> None:
    folder = Path(__file__).resolve().parents[2] / "queued_jobs" / "web" / "static"
    on_disk = {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if p.is_file() and p.suffix in {".js", ".css", ".html", ".svg", ".json"}
    }
    assert set(package_assets().files) == on_disk


def test_the_page_preloads_every_module_of_the_dashboard(server: ApiServer) -> None:
    """Every module is asked for at once, not one import after another."""
    with server.client("operator") as http:
        page = http.get("/dashboard").text
    digest = package_assets().digest
    preloaded = set(re.findall(rf'rel="modulepreload" href="/assets/{digest}/([^"]+)"', page))
    files = package_assets().files
    modules = {p for p in files if p.startswith("dashboard/") and p.endswith(".js")}
    assert preloaded == modules - {"dashboard/main.js"}
