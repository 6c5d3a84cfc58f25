"""The job routes over real HTTP, against ``queued-jobs serve`` on SQLite and Azurite."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from queued_jobs.client import JobClient
from queued_jobs.models import QueuedJob
from tests.support.web import ApiServer

WORK = "tests.work"


def _wait_for_status(http: httpx.Client, url: str, status: str) -> dict[str, object]:
    """Read ``url`` until the job has ``status`` (30 s at most); its last view."""
    deadline = datetime.now(UTC) + timedelta(seconds=30)
    while True:
        view = http.get(url).json()
        if view["status"] == status:
            return view
        assert datetime.now(UTC) < deadline, f"job never became {status}: {view}"
        time.sleep(0.05)


def test_a_started_job_is_accepted_with_its_status_url(api: ApiServer) -> None:
    with api.client("alice") as http:
        response = http.post("/jobs", json={"type": WORK, "request": {"sleeps": [0]}})
        assert response.status_code == 202, response.text
        view = response.json()
        assert response.headers["Location"] == view["links"]["self"]
        assert int(response.headers["Retry-After"]) >= 1
        assert view["owner"] == "alice"
        assert (view["status"], view["runtimeStatus"]) == ("queued", "Pending")
        assert view["durable"]["statusQueryGetUri"] == view["links"]["self"]
        again = http.get(response.headers["Location"])
        assert again.status_code == 200
        assert again.json()["id"] == view["id"]


def test_a_job_run_by_a_worker_process_shows_its_result_and_attempts(
    api: ApiServer, worker: Callable[[], subprocess.Popen[bytes]]
) -> None:
    worker()
    with api.client("alice") as http:
        created = http.post("/jobs", json={"type": WORK, "request": {"failures": 1}}).json()
        done = _wait_for_status(http, created["links"]["self"], "succeeded")
        assert done["result"] == {"attempt": 2}
        assert done["runtimeStatus"] == "Completed"
        attempts = http.get(created["links"]["attempts"]).json()
        assert [a["outcome"] for a in attempts] == ["failed", "succeeded"]
        assert "attempt 1 failed on purpose" in attempts[0]["error"]["message"]
        assert attempts[0]["error"]["traceback"] is None  # an end user sees no traceback
    with api.client("operator") as http:
        seen = http.get(created["links"]["attempts"]).json()
        assert "Traceback" in seen[0]["error"]["traceback"]


def test_a_request_that_does_not_validate_is_refused_field_by_field(api: ApiServer) -> None:
    with api.client("alice") as http:
        response = http.post("/jobs", json={"type": WORK, "request": {"sleeps": "soon"}})
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "invalid_request"
        assert [f["field"] for f in body["fields"]] == ["body.request.sleeps"]
        envelope = http.post("/jobs", json={"type": WORK, "priority": "urgent", "extra": 1})
        assert envelope.status_code == 422
        fields = {f["field"] for f in envelope.json()["fields"]}
        assert fields == {"body.priority", "body.extra"}


def test_an_unknown_job_type_is_not_found(api: ApiServer) -> None:
    with api.client("alice") as http:
        response = http.post("/jobs", json={"type": "no.such.type"})
        assert response.status_code == 404
        assert response.json()["code"] == "unknown_job_type"


def test_a_duplicate_unique_key_names_the_job_holding_it(api: ApiServer) -> None:
    with api.client("alice") as http:
        first = http.post(
            "/jobs", json={"type": WORK, "request": {}, "unique_key": "report-7"}
        ).json()
        second = http.post("/jobs", json={"type": WORK, "request": {}, "unique_key": "report-7"})
        assert second.status_code == 409
        assert second.json()["code"] == "duplicate_job"
        assert second.json()["existing_job_id"] == first["id"]
    with api.client("bob") as http:  # an owner's key is theirs alone
        assert (
            http.post(
                "/jobs", json={"type": WORK, "request": {}, "unique_key": "report-7"}
            ).status_code
            == 202
        )


def test_the_owner_is_the_caller_unless_an_operator_names_one(api: ApiServer) -> None:
    with api.client("alice") as http:
        refused = http.post("/jobs", json={"type": WORK, "request": {}, "owner": "bob"})
        assert refused.status_code == 403
        assert refused.json()["code"] == "permission_denied"
        assert (
            http.post("/jobs", json={"type": WORK, "request": {}, "owner": "alice"}).status_code
            == 202
        )
        scoped = http.post(
            "/jobs", json={"type": WORK, "request": {}, "unique_key": "k", "unique_scope": "global"}
        )
        assert scoped.status_code == 403
    with api.client("operator") as http:
        made = http.post("/jobs", json={"type": WORK, "request": {}, "owner": "bob"})
        assert made.status_code == 202
        assert made.json()["owner"] == "bob"


async def test_paging_walks_every_job_once_newest_first(
    api: ApiServer, api_client: JobClient
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    jobs = [
        QueuedJob.new(owner="alice", job_type=WORK, now=start + timedelta(milliseconds=i))
        for i in range(1_050)
    ]
    await api_client.repository.insert_many(jobs)
    expected = [job.id for job in reversed(jobs)]
    for limit in (1000, 170):
        seen: list[str] = []
        with api.client("alice") as http:
            url: str | None = f"/jobs?limit={limit}"
            while url is not None:
                page = http.get(url)
                assert page.status_code == 200, page.text
                body = page.json()
                seen += [item["id"] for item in body["items"]]
                url = body["next"]
        assert seen == expected


def test_a_listing_filters_by_status_type_and_time(api: ApiServer) -> None:
    with api.client("alice") as http:
        made = [http.post("/jobs", json={"type": WORK, "request": {}}).json() for _ in range(3)]
        http.post(f"/jobs/{made[0]['id']}/cancel")
        cancelled = http.get("/jobs", params={"status": "cancelled"}).json()["items"]
        assert [j["id"] for j in cancelled] == [made[0]["id"]]
        queued = http.get(
            "/jobs", params={"status": ["queued"], "type": WORK, "request": {}}
        ).json()
        assert [j["id"] for j in queued["items"]] == [made[2]["id"], made[1]["id"]]
        later = http.get("/jobs", params={"created_from": made[2]["created_at"]}).json()
        assert [j["id"] for j in later["items"]] == [made[2]["id"]]
        none = http.get("/jobs", params={"type": "other.type"}).json()
        assert none["items"] == []


def test_a_listing_by_tag_holds_only_the_caller_s_jobs_with_that_tag(api: ApiServer) -> None:
    def start(http: httpx.Client, tags: list[str]) -> str:
        made = http.post("/jobs", json={"type": WORK, "request": {}, "tags": tags})
        assert made.status_code == 202, made.text
        return str(made.json()["id"])

    odd = "q4/é|'x'"
    with api.client("bob") as http:
        bobs = start(http, [odd])
    with api.client("alice") as http:
        tagged = [start(http, [odd, "vip"]), start(http, []), start(http, ["vip", odd])]
        http.post(f"/jobs/{tagged[0]}/cancel")

        listed = http.get("/jobs", params={"tag": odd, "limit": 1})
        assert listed.status_code == 200, listed.text
        first = listed.json()
        assert [j["id"] for j in first["items"]] == [tagged[2]]
        rest = http.get(first["next"]).json()
        assert [j["id"] for j in rest["items"]] == [tagged[0]]
        assert rest["next"] is None
        assert all(odd in j["tags"] for j in [*first["items"], *rest["items"]])
        cancelled = http.get("/jobs", params={"tag": "vip", "status": "cancelled"}).json()
        assert [j["id"] for j in cancelled["items"]] == [tagged[0]]
        others = http.get("/jobs", params={"tag": odd, "owner": "bob"}).json()
        assert others["items"] == []
        too_long = http.get("/jobs", params={"tag": "t" * 65})
        assert too_long.status_code == 422
    with api.client("operator") as http:
        everyone = http.get("/jobs", params={"tag": odd}).json()
        assert [j["id"] for j in everyone["items"]] == [tagged[2], tagged[0], bobs]
        cancelled = http.post("/jobs:cancel", json={"tag": "vip", "status": ["queued"]}).json()
        assert cancelled["done"] == [tagged[2]]


def test_cancel_retry_and_delete_follow_the_job_s_state(api: ApiServer) -> None:
    with api.client("alice") as http:
        job = http.post("/jobs", json={"type": WORK, "request": {}}).json()
        assert http.post(f"/jobs/{job['id']}/retry").status_code == 409  # still queued
        assert http.delete(f"/jobs/{job['id']}").status_code == 409  # not finished
        cancelled = http.post(job["links"]["cancel"])
        assert cancelled.status_code == 200
        assert cancelled.json()["status"] == "cancelled"
        retried = http.post(job["links"]["retry"], params={"attempts": 2})
        assert retried.status_code == 202
        assert retried.json()["status"] == "queued"
        http.post(job["links"]["cancel"])
        assert http.delete(f"/jobs/{job['id']}").status_code == 204
        gone = http.get(f"/jobs/{job['id']}")
        assert gone.status_code == 404
        assert gone.json()["code"] == "job_not_found"


def test_operators_act_on_a_filter_in_bulk_and_purge(api: ApiServer) -> None:
    with api.client("bob") as http:
        made = [
            http.post("/jobs", json={"type": WORK, "request": {}}).json()["id"] for _ in range(3)
        ]
        assert http.post("/jobs:cancel", json={"owner": "bob"}).status_code == 403
    with api.client("reader") as http:
        assert http.post("/jobs:cancel", json={"owner": "bob"}).status_code == 403
    with api.client("operator") as http:
        result = http.post("/jobs:cancel", json={"owner": "bob", "limit": 2}).json()
        assert result["matched"] == 2
        assert sorted(result["done"]) == sorted(made[1:])
        rest = http.post("/jobs:cancel", json={"owner": "bob", "cursor": result["next_cursor"]})
        assert rest.json()["done"] == [made[0]]
        retried = http.post("/jobs:retry", json={"owner": "bob", "status": ["cancelled"]}).json()
        assert sorted(retried["done"]) == sorted(made)
        http.post("/jobs:cancel", json={"owner": "bob"})
        purged = http.post(
            "/jobs:purge", json={"completed_before": (datetime.now(UTC) + timedelta(1)).isoformat()}
        )
        assert purged.json()["deleted"] >= 3
        assert http.get(f"/jobs/{made[0]}").status_code == 404


def test_errors_are_json_with_a_stable_code(api: ApiServer) -> None:
    with api.client(None) as http:
        anonymous = http.get("/jobs")
        assert anonymous.status_code == 401
        assert anonymous.json()["code"] == "not_authenticated"
        assert anonymous.headers["WWW-Authenticate"]
    with httpx.Client(base_url=api.base_url, headers={"X-API-Key": "qj_forged"}) as http:
        assert http.get("/jobs").json()["code"] == "not_authenticated"
    with api.client("alice") as http:
        assert http.get("/no-such-route").json()["code"] == "not_found"
        assert http.get("/jobs/not-an-id").json()["code"] == "job_not_found"
        assert http.get("/jobs", params={"cursor": "x' or 1=1"}).json()["code"] == "invalid_input"
        huge = http.post(
            "/jobs",
            content=b'{"type": "tests.work", "request": "' + b"x" * 3_000_000 + b'"}',
            headers={"Content-Type": "application/json"},
        )
        assert huge.status_code == 413
        assert huge.json()["code"] == "body_too_large"
        assert (
            http.post(
                "/jobs", content=b"{not json", headers={"Content-Type": "application/json"}
            ).status_code
            == 422
        )


def test_stats_count_the_caller_s_jobs_and_show_the_queues(api: ApiServer) -> None:
    with api.client("alice") as alice:
        made = [alice.post("/jobs", json={"type": WORK, "request": {}}).json() for _ in range(3)]
        alice.post(f"/jobs/{made[0]['id']}/cancel")
    with api.client("bob") as bob:
        bob.post("/jobs", json={"type": WORK, "request": {}})
        mine = bob.get("/stats").json()
        assert mine["owner"] == "bob"
        assert mine["counts"]["queued"] == {"count": 1, "more": False}
        assert bob.get("/stats", params={"owner": "alice"}).json()["owner"] == "bob"
    with api.client("operator") as operator:
        every = operator.get("/stats").json()
        assert every["counts"]["queued"]["count"] == 3
        assert every["counts"]["cancelled"]["count"] == 1
        assert every["last_hour"]["failure_rate"] is None  # nothing succeeded or failed
        depths = {q["band"]: q["messages"] for q in every["queues"]}
        assert depths["normal"] == 4  # every job's message, the cancelled one's too
        theirs = operator.get("/stats", params={"owner": "alice", "type": WORK}).json()
        assert theirs["counts"]["queued"]["count"] == 2


def test_health_and_negotiate_need_a_principal_and_say_what_is_set_up(api: ApiServer) -> None:
    with api.client(None) as anonymous:
        assert anonymous.get("/health").status_code == 401
        assert anonymous.get("/negotiate").status_code == 401
    with api.client("alice") as alice:
        health = alice.get("/health").json()
        assert (health["status"], health["development_mode"]) == ("ok", False)
        negotiated = alice.get("/negotiate")
        assert negotiated.status_code == 404
        assert negotiated.json()["code"] == "not_configured"


def test_a_callers_trace_context_goes_with_the_job_and_a_malformed_one_is_ignored(
    api: ApiServer,
) -> None:
    # the server runs no OpenTelemetry SDK: the caller's trace context is carried anyway
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with api.client("alice") as http:
        for header, carried in [
            (f"00-{trace_id}-00f067aa0ba902b7-01", trace_id),
            ("00-" + "0" * 32 + "-00f067aa0ba902b7-01", None),  # an invalid (zero) trace id
            ("not a traceparent", None),
            ("00-" + "a" * 5000, None),
            ("\u00e9\u00e9", None),
        ]:
            response = http.post(
                "/jobs",
                json={"type": WORK, "request": {"sleeps": [0]}},
                headers={"traceparent": header.encode("utf-8"), "tracestate": "x" * 600},
            )
            assert response.status_code == 202, (header, response.text)
            assert response.json()["trace_id"] == carried, header
