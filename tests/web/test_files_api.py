"""``GET /files/...``: the embedded store's files through their signed download links, over
real HTTP against ``queued-jobs serve``; hostile paths and links end in a clean 4xx."""

from __future__ import annotations

import asyncio
import http.client
import io
import os
import zipfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from queued_jobs.app import SqliteStorage
from queued_jobs.clock import ManualClock
from queued_jobs.files._signing import LinkSigner
from queued_jobs.files.local import LocalFileStore
from queued_jobs.models import JobStatus
from queued_jobs.samples.zip_builder import zip_builder
from tests.integration.conftest import Backend, run_worker  # noqa: F401 (the fixture)
from tests.integration.jobs import build_app
from tests.support.web import ApiServer

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
RunWorker = Callable[..., Awaitable[None]]
REPORTS = {
    "alice/reports/2026/summary.md": "# 2026\n\nRevenue grew.\n" * 50,
    "alice/reports/2026/figures.csv": "metric,value\n" + "".join(f"m{i},{i}\n" for i in range(500)),
}


def _documents(backend: Backend, api: ApiServer, **options: object) -> LocalFileStore:
    """The ``documents`` container of the server's store, its links pointing at the server."""
    store = SqliteStorage(backend.env["QJ_TEST_SQLITE"], files_url=f"{api.base_url}/files").files(
        "documents", **options
    )  # type: ignore[arg-type]
    assert isinstance(store, LocalFileStore)
    return store


async def _link(store: LocalFileStore, name: str, content: bytes) -> str:
    await store.create()
    await store.write(name, content)
    return (await store.download_link(name, expires_in=timedelta(minutes=10))).url


def _raw_get(api: ApiServer, target: str) -> tuple[int, bytes]:
    """``GET target`` sent exactly as written (no client tidies its dots or escapes)."""
    address = urlsplit(api.base_url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_accept_encoding=True)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@SQLITE
async def test_a_zip_the_zip_builder_made_downloads_through_its_link(
    api: ApiServer,
    backend: Backend,
    run_worker: RunWorker,  # noqa: F811
) -> None:
    app = build_app(SqliteStorage(backend.env["QJ_TEST_SQLITE"], files_url=f"{api.base_url}/files"))
    documents = app.files("documents")
    app.job(name="samples.build_zip")(zip_builder(documents))
    await documents.create()
    for name, text in REPORTS.items():
        await documents.write(name, text.encode())
    async with app.client() as client:
        job = await client.queue_job("samples.build_zip", {"prefix": "reports"}, owner="alice")

        async def finished() -> bool:
            return (await client.get_job(job.id)).is_terminal

        await run_worker(app, finished)
        done = await client.get_job(job.id)
    await documents.close()
    assert done.status is JobStatus.SUCCEEDED, done.error
    assert isinstance(done.result, dict)
    url = str(done.result["url"])
    assert url.startswith(f"{api.base_url}/files/documents/alice/zips/{job.id}.zip?")

    async with httpx.AsyncClient(timeout=30) as anyone:  # no credentials: the link is one
        response = await anyone.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith(
        f'attachment; filename="{job.id}.zip"'
    )
    assert response.headers["Cache-Control"] == "private, no-store"
    assert int(response.headers["Content-Length"]) == len(response.content) == done.result["size"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["2026/figures.csv", "2026/summary.md"]
        for name, text in REPORTS.items():
            assert archive.read(name.removeprefix("alice/reports/")).decode() == text


@SQLITE
async def test_a_tampered_expired_or_misplaced_link_is_refused(
    api: ApiServer, backend: Backend
) -> None:
    store = _documents(backend, api)
    url = await _link(store, "alice/q4.csv", b"a,b\n1,2\n")
    other = await _link(store, "bob/secret.csv", b"bob's\n")
    an_hour_ago = ManualClock(datetime.now(UTC) - timedelta(hours=1))
    expired = await _documents(backend, api, clock=an_hour_ago).download_link(
        "alice/q4.csv", expires_in=timedelta(minutes=5)
    )
    path, _, query = url.partition("?")
    signature = query.rpartition("=")[2]
    tampered = f"{url[: -len(signature)]}{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    async with httpx.AsyncClient(timeout=30) as anyone:
        assert (await anyone.get(url)).content == b"a,b\n1,2\n"
        for refused in (
            tampered,
            expired.url,
            f"{path.replace('q4.csv', 'secret.csv')}?{query}",  # another file, this signature
            f"{other.partition('?')[0]}?{query}",
            path.replace("/documents/", "/payloads/") + f"?{query}",  # another container
            path.replace("/documents/", "/No_Such-/") + f"?{query}",
            f"{url}&expires=9999999999",  # a second expiry: which one would count?
            f"{path}?expires=9999999999&signature={signature}",  # stretched
        ):
            response = await anyone.get(refused)
            assert response.status_code == 403, (refused, response.text)
            assert response.json()["code"] == "invalid_download_link"
        assert "expired" in (await anyone.get(expired.url)).json()["message"]
        for missing in (path, f"{path}?expires=1", f"{path}?signature={signature}"):
            response = await anyone.get(missing)
            assert response.status_code == 422
            assert response.json()["code"] == "invalid_request"
        assert (await anyone.get(url)).status_code == 200


@SQLITE
async def test_hostile_paths_get_a_clean_4xx_and_never_a_file_outside_the_store(
    api: ApiServer, backend: Backend
) -> None:
    store = _documents(backend, api)
    url = await _link(store, "alice/q4.csv", b"a,b\n")
    query = url.partition("?")[2]
    outside = Path(backend.env["QJ_TEST_SQLITE"])
    (store.directory / "alice" / "escape.csv").symlink_to(outside)
    secret = (await asyncio.to_thread(outside.read_bytes))[:16]
    for target in (
        "/files/documents/../../jobs.db",
        "/files/documents/alice/../../../jobs.db",
        "/files/documents/%2e%2e/%2e%2e/jobs.db",
        "/files/documents/alice%2F..%2F..%2F..%2Fjobs.db",
        "/files/..%2F..%2F/jobs.db",
        "/files/documents/alice/escape.csv",
        "/files/documents/alice/q4.csv%00.txt",
        "/files/documents/%ff%fe",
        "/files/documents/" + "a" * 1025,
        "/files/documents/" + "a/" * 600 + "b",
        "/files/" + "c" * 64 + "/alice/q4.csv",
        "/files/documents/.signing-key",
        "/files/documents/",
    ):
        for suffix in (f"?{query}", "?expires=1&signature=x", ""):
            status, body = await asyncio.to_thread(_raw_get, api, target + suffix)
            assert 400 <= status < 500, (target, suffix, status, body[:200])
            assert secret not in body
    # Signed with the store's own key, as if the link in the container were a file.
    key = await asyncio.to_thread((store.directory.parent / ".signing-key").read_bytes)
    signer = LinkSigner(key, store.base_url)
    forged = signer.sign("documents", "alice/escape.csv", datetime.now(UTC) + timedelta(hours=1))
    async with httpx.AsyncClient(timeout=30) as anyone:
        response = await anyone.get(forged.url)
    assert (response.status_code, response.json()["code"]) == (404, "file_not_found")
    assert secret not in response.content


@SQLITE
async def test_files_come_whole_under_their_names_and_links_to_links_or_gone_files_do_not(
    api: ApiServer, backend: Backend
) -> None:
    store = _documents(backend, api)
    url = await _link(store, "alice/gone.csv", b"soon gone\n")
    odd = 'alice/q4 "final" ünï;%.csv'
    odd_url = await _link(store, odd, b"x,y\n")
    big = os.urandom(3 * 256 * 1024 + 17)  # more than one piece of the answer
    big_url = await _link(store, "alice/big.bin", big)
    assert await store.delete("alice/gone.csv")
    # A link placed in the container, signed as if it were a file: never followed.
    real = await _link(store, "alice/real.csv", b"real\n")
    os.replace(store.directory / "alice" / "real.csv", store.directory / "alice" / "old.csv")
    (store.directory / "alice" / "real.csv").symlink_to(store.directory / "alice" / "old.csv")
    async with httpx.AsyncClient(timeout=30) as anyone:
        for target in (url, real):
            response = await anyone.get(target)
            assert (response.status_code, response.json()["code"]) == (404, "file_not_found")
        whole = await anyone.get(big_url)
        assert (whole.status_code, whole.content) == (200, big)
        assert whole.headers["Content-Type"] == "application/octet-stream"
        shown = await anyone.get(odd_url)
        assert shown.status_code == 200, shown.text
        assert shown.content == b"x,y\n"
        assert shown.headers["Content-Type"].startswith("text/csv")
        assert shown.headers["Content-Disposition"] == (
            'attachment; filename="q4 _final_ ?n?;%.csv"; '
            "filename*=UTF-8''q4%20%22final%22%20%C3%BCn%C3%AF%3B%25.csv"
        )


@pytest.mark.parametrize("backend", ["azure"], indirect=True)
def test_on_azure_files_are_not_served_here(api: ApiServer) -> None:
    with httpx.Client(base_url=api.base_url, timeout=30) as anyone:
        response = anyone.get("/files/documents/alice/q4.csv?expires=1&signature=x")
    assert response.status_code == 404
    body = response.json()
    assert body == {
        "code": "not_configured",
        "message": "files are served by the storage itself (Azure Blob SAS links)",
    }
