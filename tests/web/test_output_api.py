"""``GET /jobs/{id}/output`` and the output in ``job`` events, over real HTTP against
``queued-jobs serve`` on SQLite and Azurite, with a worker process running the jobs: what
a job printed, read page by page from a position, only by those who may see the job, and
streamed live while it runs; never in listings."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from queued_jobs.models import MAX_OUTPUT_POSITION, OUTPUT_TAIL_LIMIT
from tests.support.web import ApiServer, read_events

PRINT = "tests.print"
LINES = [f'step {n}: <b>done</b> & "quoted" \t ünï ✓\n' for n in range(6)]
WHOLE = "".join(LINES)


def _start(
    http: httpx.Client, lines: list[str], pause: float = 0.0, numbered: int = 0
) -> dict[str, Any]:
    request = {"lines": lines, "pause": pause, "numbered": numbered}
    response = http.post("/jobs", json={"type": PRINT, "request": request})
    assert response.status_code == 202, response.text
    view: dict[str, Any] = response.json()
    return view


def _finished(http: httpx.Client, url: str) -> dict[str, Any]:
    """The job's output once it has finished (60 s at most)."""
    deadline = time.monotonic() + 60
    while True:
        read: dict[str, Any] = http.get(url).json()
        if read["complete"]:
            return read
        assert time.monotonic() < deadline, f"the job never finished: {read}"
        time.sleep(0.05)


def test_a_job_s_output_is_read_from_a_position_with_what_is_no_longer_kept(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    many = [f"numbered line {n:05d}\n" for n in range(800)]  # 16,800 characters
    with api.client("alice") as http:
        short, long = _start(http, LINES), _start(http, [], numbered=len(many))
        done = _finished(http, short["links"]["output"])
        assert done == {
            "job_id": short["id"],
            "status": "succeeded",
            "text": WHOLE,
            "length": len(WHOLE),
            "skipped": 0,
            "complete": True,
        }
        rest = http.get(short["links"]["output"], params={"after": len(LINES[0])}).json()
        assert (rest["text"], rest["skipped"]) == (WHOLE[len(LINES[0]) :], 0)
        at_end = http.get(short["links"]["output"], params={"after": len(WHOLE)}).json()
        past_end = http.get(short["links"]["output"], params={"after": 10**9}).json()
        assert [(r["text"], r["length"]) for r in (at_end, past_end)] == [("", len(WHOLE))] * 2

        whole = "".join(many)
        cut = _finished(http, long["links"]["output"])
        assert cut["length"] == len(whole)
        assert cut["skipped"] + len(cut["text"]) == len(whole)
        assert cut["skipped"] > 0
        assert len(cut["text"]) <= OUTPUT_TAIL_LIMIT
        assert whole.endswith(cut["text"])
        assert cut["text"].startswith("numbered line ")  # cut at a line's start


def test_a_running_job_s_output_is_readable_and_says_when_to_look_again(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with api.client("alice") as http:
        job = _start(http, ["first\n", "second\n"], pause=2.0)
        deadline = time.monotonic() + 60
        while (read := http.get(job["links"]["output"])).json()["text"] == "":
            assert time.monotonic() < deadline, "the job printed nothing"
            time.sleep(0.05)
        assert read.json()["complete"] is False
        assert read.json()["status"] == "running"
        assert int(read.headers["Retry-After"]) >= 1
        view = http.get(job["links"]["self"]).json()
        assert view["output_length"] >= len("first\n")
        http.post(job["links"]["cancel"])


def test_another_owner_s_output_does_not_exist_and_readers_see_every_one(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with api.client("alice") as alice:
        job = _start(alice, LINES)
        done = _finished(alice, job["links"]["output"])
    url = f"/jobs/{job['id']}/output"
    with api.client("bob") as bob:
        for params in ({}, {"after": 0}, {"after": 5}):
            refused = bob.get(url, params=params)
            assert (refused.status_code, refused.json()["code"]) == (404, "job_not_found")
            assert WHOLE[:10] not in refused.text
        assert bob.get("/jobs/" + "0" * 29 + "/output").status_code == 404
    for caller in ("reader", "operator"):
        with api.client(caller) as http:
            assert http.get(url).json() == done


@pytest.mark.parametrize(
    "after",
    ["-1", str(MAX_OUTPUT_POSITION + 1), "1" + "0" * 30, "abc", "1.5", "", "0x10"],
    ids=["negative", "past-the-largest", "huge", "text", "fraction", "empty", "hex"],
)
def test_a_position_no_reader_can_have_is_refused_naming_the_parameter(
    api: ApiServer, after: str
) -> None:
    with api.client("alice") as http:
        job = _start(http, LINES)
        response = http.get(job["links"]["output"], params={"after": after})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "invalid_request"
    assert [f["field"] for f in body["fields"]] == ["query.after"]


def test_listings_never_carry_the_output_text_but_views_say_how_long_it_is(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with api.client("alice") as http:
        job = _start(http, [], numbered=300)
        _finished(http, job["links"]["output"])
        listing = http.get("/jobs")
        view = http.get(job["links"]["self"])
    [item] = listing.json()["items"]
    printed = 300 * len("numbered line 00000\n")
    assert (item["output_length"], view.json()["output_length"]) == (printed, printed)
    assert item["links"]["output"] == view.json()["links"]["output"] == job["links"]["output"]
    for answer in (listing, view):
        assert "numbered line" not in answer.text
        assert len(answer.content) < 4_000  # 6,000 characters printed


def test_the_event_stream_carries_what_a_running_job_prints_once_and_in_order(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    printed: list[tuple[str, str, int]] = []
    with api.client("alice") as http, http.stream("GET", "/events") as stream:
        job = _start(http, LINES, pause=0.3)
        for event in read_events(stream):
            change = event.json()
            if event.event != "job" or change["job_id"] != job["id"]:
                continue
            if "output" in change:
                printed.append((change["status"], change["output"], change["output_length"]))
            if change["status"] == "succeeded":
                break
    assert "".join(text for _, text, _ in printed) == WHOLE
    ends = [length for _, _, length in printed]
    assert ends == sorted(ends)
    assert ends[-1] == len(WHOLE)
    assert [length - len(text) for _, text, length in printed] == [0, *ends[:-1]]
    assert any(status == "running" for status, _, _ in printed)  # live, not at the end
