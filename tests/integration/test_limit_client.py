"""The limit client on SQLite and Azurite: each limit the app declares with its code's
value, an operator's override and the value that applies, its gates' live holders,
parked counts and a rate's recent starts; settings changed, checked and reset."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from queued_jobs.client import JobClient
from queued_jobs.errors import InvalidInput, LimitNotFound
from queued_jobs.limits import Gate, Holding, LimitSettings, Waiter
from queued_jobs.models import new_job_id
from queued_jobs.sync_client import SyncJobClient
from tests.integration.conftest import Backend
from tests.integration.export_jobs import build_export_app


@pytest.fixture
async def client(backend: Backend) -> AsyncIterator[JobClient]:
    opened = build_export_app(backend.storage).client()
    await opened.create_storage()
    yield opened
    await opened.close()


async def _plant_full_gate(client: JobClient, key: str = "acme", parked: int = 2) -> str:
    """A gate of ``exports`` with one live holder, one whose place ran out, and
    ``parked`` jobs parked; returns the live holder's id."""
    now = client.clock.now()
    holder, gone = new_job_id("ada"), new_job_id("ada")
    gate = Gate(
        limit="exports",
        key=key,
        holders={
            holder: Holding(since=now - timedelta(seconds=5), until=now + timedelta(minutes=1)),
            gone: Holding(since=now - timedelta(hours=1), until=now - timedelta(minutes=1)),
        },
        updated_at=now,
    )
    for _ in range(parked):
        waiter = Waiter(job_id=new_job_id("bob"), queue="jobs", since=now)
        gate = await client.repository.limits.save_gate(
            gate.model_copy(update={"has_waiters": True}), add_waiter=waiter
        )
    if not parked:
        await client.repository.limits.save_gate(gate)
    return holder


async def test_each_declared_limit_is_listed_with_its_code_value_and_no_gate(
    client: JobClient,
) -> None:
    listed = await client.limits.list_limits()
    assert [(v.name, v.kind, v.capacity, v.rate, v.per) for v in listed] == [
        ("calls", "rate", None, 5, timedelta(minutes=1)),
        ("exports", "concurrency", 1, None, None),
    ]
    assert [(v.setting, v.effective, v.gates, v.truncated) for v in listed] == [
        (None, 5, (), False),
        (None, 1, (), False),
    ]
    assert listed[1].keyed_by == "by_request('customer')"
    assert listed[1].describe() == "at most 1 at once"


async def test_a_gate_shows_its_live_holders_and_how_many_are_parked(client: JobClient) -> None:
    holder = await _plant_full_gate(client, parked=2)
    await _plant_full_gate(client, key="globex", parked=0)
    limit = await client.limits.get_limit("exports")
    assert [gate.key for gate in limit.gates] == ["acme", "globex"]
    acme = limit.gates[0]
    assert [h.job_id for h in acme.holders] == [holder]  # the one whose place ran out is not
    assert acme.holders[0].started is True
    assert (acme.parked, acme.parked_more, acme.parked_text) == (2, False, "2")
    assert (limit.holding, limit.parked, limit.effective) == (2, 2, 1)


async def test_a_rate_counts_the_starts_of_its_window_only(client: JobClient) -> None:
    now = client.clock.now()
    starts = (now - timedelta(minutes=5), now - timedelta(seconds=30), now - timedelta(seconds=1))
    await client.repository.limits.save_gate(Gate(limit="calls", starts=starts, updated_at=now))
    [gate] = (await client.limits.get_limit("calls")).gates
    assert (gate.key, gate.starts, gate.holders) == ("", 2, ())


async def test_an_operator_setting_overrides_the_code_and_a_reset_forgets_it(
    client: JobClient,
) -> None:
    saved = await client.limits.set_limit("exports", capacity=2, by="olga")
    assert (saved.capacity, saved.rate, saved.updated_by) == (2, None, "olga")
    again = await client.limits.set_limit("exports", capacity=0, by="olga")  # over the first
    assert again.capacity == 0
    limit = await client.limits.get_limit("exports")
    assert (limit.capacity, limit.override, limit.effective, limit.paused) == (1, 0, 0, True)
    assert limit.describe() == "paused"
    rate = await client.limits.set_limit("calls", rate=50)
    assert rate.rate == 50
    assert (await client.limits.get_limit("calls")).describe() == "at most 50 starts per 1min"
    await client.limits.reset_limit("exports")
    limit = await client.limits.get_limit("exports")
    assert (limit.setting, limit.effective) == (None, 1)
    await client.limits.reset_limit("exports")  # nothing set: nothing to do


@pytest.mark.parametrize(
    ("name", "given", "said"),
    [
        ("exports", {"capacity": -1}, "0 (paused) to 1,000, not -1"),
        ("exports", {"capacity": 10**9}, "0 (paused) to 1,000, not 1,000,000,000"),
        ("exports", {"capacity": True}, "whole number, not bool"),
        ("exports", {"rate": 3}, "a concurrency limit: set its capacity, not a rate"),
        ("calls", {"capacity": 3}, "a rate limit: set its rate, not a capacity"),
        ("calls", {}, "a capacity or a rate (one of them)"),
        ("calls", {"capacity": 1, "rate": 1}, "a capacity or a rate (one of them)"),
    ],
)
async def test_a_setting_out_of_range_or_of_the_wrong_kind_is_refused(
    client: JobClient, name: str, given: dict[str, int], said: str
) -> None:
    with pytest.raises(InvalidInput, match=re.escape(said)):
        await client.limits.set_limit(name, **given)
    assert await client.repository.limits.load_limit_settings(name) is None


@pytest.mark.parametrize("name", ["nothing", "Not A Name", "x" * 500, ""])
async def test_an_unknown_limit_is_not_found(client: JobClient, name: str) -> None:
    with pytest.raises(LimitNotFound, match="the app's limits: calls, exports"):
        await client.limits.get_limit(name)
    with pytest.raises(LimitNotFound):
        await client.limits.set_limit(name, capacity=1)
    with pytest.raises(LimitNotFound):
        await client.limits.reset_limit(name)


async def test_a_setting_of_a_limit_the_app_does_not_declare_is_listed_and_can_be_reset(
    client: JobClient,
) -> None:
    now = client.clock.now()
    stored = LimitSettings(limit="other-app", capacity=3, updated_at=now)
    await client.repository.limits.save_limit_settings(stored)
    listed = {view.name: view for view in await client.limits.list_limits()}
    assert list(listed) == ["calls", "exports", "other-app"]
    other = listed["other-app"]
    assert (other.kind, other.effective, other.describe()) == (
        "unknown",
        3,  # the operator's value applies where the limit is declared
        "not declared by this app",
    )
    assert other.setting is not None
    assert other.setting.capacity == 3
    await client.limits.reset_limit("other-app")
    with pytest.raises(LimitNotFound):
        await client.limits.get_limit("other-app")


async def test_an_inline_client_applies_its_own_change_at_once(backend: Backend) -> None:
    async with build_export_app(backend.storage).client(inline=True) as client:
        await client.create_storage()
        keeper = client._inline.limits  # type: ignore[union-attr]
        assert await keeper.settings("exports") is None  # now cached for 5 s
        await client.limits.set_limit("exports", capacity=3)
        found = await keeper.settings("exports")
        assert found is not None
        assert found.capacity == 3


def test_the_sync_client_lists_sets_and_resets(backend: Backend) -> None:
    app = build_export_app(backend.storage)
    with SyncJobClient(lambda: app.client()) as client:
        client.create_storage()
        client.limits.set_limit("exports", capacity=4, by="ops")
        assert client.limits.get_limit("exports").effective == 4
        assert [v.name for v in client.limits.list_limits()] == ["calls", "exports"]
        client.limits.reset_limit("exports")
        assert client.limits.get_limit("exports").effective == 1
