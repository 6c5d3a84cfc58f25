"""The Azure table layout refuses what Table Storage would refuse (Azurite does not)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from queued_jobs._azure import table_keys as keys
from queued_jobs._azure.table_entities import (
    INLINE_LIMIT,
    MAX_ENTITY,
    MAX_PROPERTY,
    decode_job,
    encode_job,
)
from queued_jobs._azure.table_queries import listing_of
from queued_jobs.errors import InvalidKey
from queued_jobs.models import (
    ACTIVE_STATUSES,
    OUTPUT_TAIL_LIMIT,
    JobError,
    JobOutput,
    JobStatus,
    Progress,
    QueuedJob,
    owner_shard,
)
from queued_jobs.repositories._changes import change_doc
from queued_jobs.repositories._limits import MAX_CUSTOM_DATA_BYTES
from queued_jobs.repositories.base import JobQuery

FORBIDDEN_IN_KEYS = "/\\#?"


def entity_size(entity: dict[str, object]) -> int:
    """Table Storage's own formula for an entity's size, in bytes."""
    size = 4
    for name, value in entity.items():
        if name in ("PartitionKey", "RowKey"):
            size += len(str(value).encode("utf-16-le"))
            continue
        size += 8 + 2 * len(name)
        if isinstance(value, str):
            size += 4 + len(value.encode("utf-16-le"))
        else:
            size += 8
    return size


def test_escaped_keys_never_contain_characters_table_storage_forbids() -> None:
    owner = "dom\\user/with#odd?chars|and%percent"
    job = QueuedJob.new(owner=owner, job_type="t")

    row_key = keys.owner_key(owner, job.id)
    partition = keys.unique_partition("a/b#c?d\\e")

    for key in (row_key, partition):
        assert not set(FORBIDDEN_IN_KEYS) & set(key)
    assert keys.escape("50%/x") == "50%25%2Fx"


def test_keys_keep_owners_apart_even_when_one_is_a_prefix_of_another() -> None:
    low, high = keys.time_range(None, None, None, prefix=keys.listing_prefix(owner="alice"))
    job = QueuedJob.new(owner="alice|x", job_type="t")

    assert not low < keys.owner_key("alice|x", job.id) < high


def test_a_unique_key_too_long_once_escaped_is_refused_with_a_clear_error() -> None:
    with pytest.raises(InvalidKey, match="unique key is too long to be a table key"):
        keys.unique_partition("/" * 500)


def test_a_malformed_job_id_is_refused_before_any_request() -> None:
    with pytest.raises(InvalidKey, match="not a job id"):
        keys.job_partition("../../etc")


def test_time_ranges_select_jobs_by_creation_millisecond_newest_first() -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    ids = [
        QueuedJob.new(owner="o", job_type="t", now=start + timedelta(seconds=s)).id
        for s in range(5)
    ]
    low, high = keys.time_range(None, start + timedelta(seconds=1), start + timedelta(seconds=3))

    inside = sorted(keys.job_key(i) for i in ids if low < keys.job_key(i) < high)

    assert inside == [keys.job_key(ids[3]), keys.job_key(ids[2]), keys.job_key(ids[1])]


def largest_job() -> QueuedJob:
    return QueuedJob.new(
        owner="ö" * 256,
        job_type="t" * 256,
        request={"r": "x" * (INLINE_LIMIT // 2 - 20)},
        unique_key="u" * 512,
        correlation_id="c" * 256,
        tags=tuple("g" * 64 for _ in range(32)),
        custom_data={"d": '"' * (MAX_CUSTOM_DATA_BYTES // 4 - 10)},
        progress=Progress(percent=1, message="m" * 1024),
    ).model_copy(
        update={
            "result": {"r": "y" * (INLINE_LIMIT // 2 - 20)},
            "error": JobError(type="E" * 999, message='"' * 9999, traceback='\n"' * 99_999),
            "output": JobOutput(text='"' * OUTPUT_TAIL_LIMIT, length=10**15, new=OUTPUT_TAIL_LIMIT),
        }
    )


def test_the_largest_job_the_model_allows_fits_one_entity_and_every_property() -> None:
    job = largest_job()
    encoded = encode_job(job)
    entity = {"PartitionKey": "j0", "RowKey": keys.owner_key(job.owner, job.id)}
    entity.update({k: v for k, v in encoded.properties.items() if v is not None})

    assert encoded.blobs == {}
    assert entity_size(entity) < MAX_ENTITY
    for name, value in entity.items():
        if isinstance(value, str):
            assert len(value.encode("utf-16-le")) <= MAX_PROPERTY, name


def test_the_change_the_largest_job_records_fits_one_property() -> None:
    doc = change_doc(largest_job())

    assert '"output":"' in doc
    assert len(doc.encode("utf-16-le")) <= MAX_PROPERTY


def test_an_output_that_escapes_badly_is_cut_to_fit_and_keeps_its_end() -> None:
    text = '"\t\\\n' * (OUTPUT_TAIL_LIMIT // 4 - 3) + "last line"
    job = QueuedJob.new(owner="o", job_type="t").model_copy(
        update={"output": JobOutput(text=text, length=10**9, new=len(text))}
    )

    stored = encode_job(job).properties["Output"]

    assert len(stored.encode("utf-16-le")) <= MAX_PROPERTY // 4
    back = JobOutput.model_validate_json(stored)
    assert back.text.endswith("last line")
    assert text.endswith(back.text)
    assert (back.length, back.new) == (10**9, len(back.text))


def test_an_output_json_writes_as_it_is_is_kept_whole() -> None:
    text = "\ufffd" * OUTPUT_TAIL_LIMIT
    job = QueuedJob.new(owner="o", job_type="t").model_copy(
        update={"output": JobOutput(text=text, length=OUTPUT_TAIL_LIMIT)}
    )

    back = decode_job({**encode_job(job).properties, "RowKey": keys.job_key(job.id)}, "e", {})

    assert back.output == job.output


def test_payloads_over_the_inline_limit_move_to_a_content_named_blob_and_come_back() -> None:
    small = {"rows": "a" * 1000}
    large = {"rows": "é" * (INLINE_LIMIT // 2)}
    job = QueuedJob.new(owner="o", job_type="t", request=large).model_copy(update={"result": small})

    encoded = encode_job(job)

    [blob] = encoded.blobs
    assert blob.startswith(f"{job.id}/request-")
    assert blob.endswith(".json")
    assert "Request" not in encoded.properties
    assert encoded.properties["RequestBlob"] == blob
    assert encoded.properties["Result"] == '{"rows":"' + "a" * 1000 + '"}'
    back = decode_job({**encoded.properties, "RowKey": keys.job_key(job.id)}, "etag", encoded.blobs)
    assert back == job.model_copy(update={"version": "etag"})


def test_an_error_whose_traceback_escapes_badly_is_cut_to_fit_and_keeps_its_end() -> None:
    traceback = '\n"' * 7_999 + "\nValueError: the real cause"
    job = QueuedJob.new(owner="o", job_type="t").model_copy(
        update={"error": JobError(type="E", message="boom", traceback=traceback)}
    )

    stored = encode_job(job).properties["Error"]

    assert len(stored.encode("utf-16-le")) <= MAX_PROPERTY // 2
    back = JobError.model_validate_json(stored)
    assert back.message == "boom"
    assert back.traceback is not None
    assert back.traceback.endswith("ValueError: the real cause")


def test_every_row_of_a_job_names_it_from_its_key_alone() -> None:
    job_id = QueuedJob.new(owner="o|%ner", job_type="t").id

    for row_key in (
        keys.job_key(job_id),
        keys.owner_key("o|%ner", job_id),
        keys.status_key("queued", job_id),
        keys.type_key("a|b%c", job_id),
        keys.type_status_key("a|b%c", "running", job_id),
        keys.owner_status_key("o|%ner", "failed", job_id),
        keys.attempt_key(job_id, 7),
    ):
        assert keys.job_id_of(row_key) == job_id


def test_pointer_keys_keep_types_and_owners_apart_even_when_one_is_a_prefix() -> None:
    job_id = QueuedJob.new(owner="alice|queued", job_type="t").id
    for prefix, key in (
        (keys.listing_prefix(job_type="t"), keys.type_key("t|x", job_id)),
        (keys.listing_prefix(job_type="t", status="queued"), keys.type_key("t|queued", job_id)),
        (keys.listing_prefix(owner="alice"), keys.owner_status_key("alice|queued", "x", job_id)),
        (
            keys.listing_prefix(owner="alice", status="queued"),
            keys.owner_key("alice|queued", job_id),
        ),
    ):
        assert not key.startswith(prefix), (prefix, key)


_STATUSES = (frozenset(), frozenset({JobStatus.FAILED}), frozenset(ACTIVE_STATUSES))


@pytest.mark.parametrize("owner", [None, "ada"])
@pytest.mark.parametrize("job_type", [None, "reports.build"])
@pytest.mark.parametrize("statuses", _STATUSES)
@pytest.mark.parametrize("windowed", [False, True])
def test_every_listing_is_key_ranges_the_service_filters_only_by_type_within_an_owner(
    owner: str | None, job_type: str | None, statuses: frozenset[JobStatus], windowed: bool
) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    window = {"created_from": start, "created_before": start + timedelta(days=1)}
    query = JobQuery(
        owner=owner, job_type=job_type, statuses=statuses, **(window if windowed else {})
    )

    listing = listing_of(query, None)

    partitions = {r["pk"] for r in listing.ranges}
    assert len(partitions) == (1 if owner else 16)
    assert len(listing.ranges) == len(partitions) * max(len(statuses), 1)
    filtered = {c.split(" ")[0].strip("( ") for c in listing.query_filter.split(" and ")}
    window_columns = {"CreatedAt"} if windowed and not listing.pointers else set()
    by_service = {"JobType"} if owner and job_type else set()
    assert filtered == {"PartitionKey", "RowKey"} | window_columns | by_service
    for parameters in listing.ranges:  # each range is one listing's rows, in one partition
        low, high = parameters["low"], parameters["high"]
        assert low.rsplit("|", 1)[0] == high.rsplit("|", 1)[0]
        if job_type:
            assert keys.escape(job_type) in low or owner


@pytest.mark.parametrize("owner", [None, "ada"])
@pytest.mark.parametrize("job_type", [None, "reports.build"])
@pytest.mark.parametrize("statuses", _STATUSES)
def test_a_tag_listing_is_the_tags_pointer_range_the_service_filters_by_owner_and_type(
    owner: str | None, job_type: str | None, statuses: frozenset[JobStatus]
) -> None:
    tag = "q4/é|x"
    query = JobQuery(owner=owner, job_type=job_type, statuses=statuses, tag=tag)

    listing = listing_of(query, None)

    assert {r["pk"] for r in listing.ranges} == (
        {f"j{owner_shard(owner):x}"} if owner else set(keys.shard_partitions())
    )
    assert len(listing.ranges) == (1 if owner else 16)  # statuses are no ranges of their own
    assert listing.pointers
    assert listing.statuses_on_jobs == bool(statuses)
    filtered = {c.split(" ")[0] for c in listing.query_filter.split(" and ")}
    assert filtered == {"PartitionKey", "RowKey"} | ({"Owner"} if owner else set()) | (
        {"JobType"} if job_type else set()
    )
    for parameters in listing.ranges:
        assert parameters["low"] == keys.tag_prefix(tag) == "g|q4%2Fé%7Cx|"


def test_tag_pointers_keep_tags_apart_name_their_job_and_hold_no_forbidden_character() -> None:
    job_id = QueuedJob.new(owner="o", job_type="t").id
    low, high = keys.time_range(None, None, None, prefix=keys.tag_prefix("a"))

    for tag in ("a|b", "a%7Cb", "a/b", "a "):
        key = keys.tag_key(tag, job_id)
        assert not low < key < high, tag
        assert keys.job_id_of(key) == job_id
        assert not set(FORBIDDEN_IN_KEYS) & set(key)
    assert low < keys.tag_key("a", job_id) < high


@pytest.mark.parametrize(
    "host",
    ["box:1", "a/b\\c#d?e|f%g:1", "🚀" * 256, "/" * 256, "/" * 255 + "x", "🚀#" * 128],
)
def test_a_presence_key_is_a_table_key_whatever_the_host_is_named(host: str) -> None:
    from queued_jobs._azure.table_presences import presence_key

    key = presence_key(host)

    assert len(key.encode("utf-16-le")) <= 1024
    assert not any(char in key for char in FORBIDDEN_IN_KEYS)
    assert presence_key(host) == key


def test_hosts_alike_but_for_their_end_get_keys_of_their_own() -> None:
    from queued_jobs._azure.table_presences import presence_key

    long_ones = {presence_key("/" * 255 + end) for end in ("/", "x", "y", "%2F")}
    short_ones = {presence_key("a|b"), presence_key("a%7Cb")}

    assert len(long_ones) == 4
    assert len(short_ones) == 2
