"""API keys: made once, stored hashed, accepted from either header, and stored entries that
cannot work refused with the entry named."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from queued_jobs.errors import ConfigurationError, InvalidInput, NotAuthenticated
from queued_jobs.web.auth import API_KEY_PREFIX, ApiKey, ApiKeys, Principal, Role, new_api_key


async def test_a_new_key_is_accepted_as_authorization_apikey_and_as_x_api_key() -> None:
    key, stored = new_api_key("nightly-export", {Role.OPERATOR}, "export job")
    keys = ApiKeys([stored])
    expected = Principal(
        "nightly-export", frozenset({Role.USER, Role.OPERATOR}), "api-key", "export job"
    )

    assert await keys.authenticate({"Authorization": f"ApiKey {key}"}) == expected
    assert await keys.authenticate({"x-api-key": key}) == expected
    assert await keys.authenticate({"Authorization": f"apikey {key}", "X-API-Key": key}) == (
        expected
    )


def test_a_key_is_random_prefixed_and_only_its_sha256_is_stored() -> None:
    key, stored = new_api_key("ada")
    other, _ = new_api_key("ada")

    assert key.startswith(API_KEY_PREFIX)
    assert len(key) == 46
    assert key != other
    assert stored.hash == "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    assert key not in json.dumps(stored.to_json())
    assert stored.roles == {Role.USER}


async def test_a_stored_entry_round_trips_through_json() -> None:
    key, stored = new_api_key("ada", {Role.READER}, None)

    keys = ApiKeys.from_json(json.dumps([stored.to_json()]))

    assert keys.keys == (stored,)
    principal = await keys.authenticate({"X-API-Key": key})
    assert principal is not None
    assert principal.sees_all
    assert not principal.acts_on_all


async def test_an_unknown_key_is_refused() -> None:
    _, stored = new_api_key("ada")
    keys = ApiKeys([stored])
    unknown, _ = new_api_key("ada")

    with pytest.raises(NotAuthenticated, match="not one of this API's keys"):
        await keys.authenticate({"X-API-Key": unknown})


async def test_two_different_keys_in_one_request_are_refused() -> None:
    first, one = new_api_key("ada")
    second, two = new_api_key("grace")

    with pytest.raises(NotAuthenticated, match="two different API keys"):
        await ApiKeys([one, two]).authenticate(
            {"Authorization": f"ApiKey {first}", "X-API-Key": second}
        )


async def test_a_request_without_an_api_key_is_left_to_the_next_authenticator() -> None:
    keys = ApiKeys([new_api_key("ada")[1]])

    assert await keys.authenticate({}) is None
    assert await keys.authenticate({"Authorization": "Bearer x.y.z"}) is None


@pytest.mark.parametrize("sent", ["", " ", "qj_" + "a" * 1000, "qj_é", "qj_\x00", "\ud800"])
async def test_a_key_that_cannot_be_one_of_ours_is_refused(sent: str) -> None:
    keys = ApiKeys([new_api_key("ada")[1]])

    with pytest.raises(NotAuthenticated, match="not one of this API's keys"):
        await keys.authenticate({"X-API-Key": sent})


def test_keys_load_from_a_json_file(tmp_path: Path) -> None:
    _, stored = new_api_key("ada", {Role.OPERATOR}, "laptop")
    path = tmp_path / "keys.json"
    path.write_text(json.dumps([stored.to_json()]), encoding="utf-8")

    assert ApiKeys.from_file(path).keys == (stored,)


def test_a_missing_keys_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot be read"):
        ApiKeys.from_file(tmp_path / "missing.json")


def test_entries_without_roles_are_users() -> None:
    _, stored = new_api_key("ada")
    entry = {"hash": stored.hash, "owner": "ada"}

    assert ApiKeys.from_json(json.dumps([entry])).keys[0].roles == {Role.USER}


VALID_HASH = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("key", "not an object"),
        ({"hash": "md5:abc", "owner": "ada"}, '"sha256:" and 64'),
        ({"hash": "sha256:" + "A" * 64, "owner": "ada"}, "lower-case hex"),
        ({"hash": VALID_HASH}, '"owner" must be'),
        ({"hash": VALID_HASH, "owner": ""}, "owner must not be empty"),
        ({"hash": VALID_HASH, "owner": "ada", "roles": "operator"}, "list of role names"),
        ({"hash": VALID_HASH, "owner": "ada", "roles": ["admin"]}, "does not exist"),
        ({"hash": VALID_HASH, "owner": "ada", "name": 3}, '"name" must be'),
        ({"hash": VALID_HASH, "owner": "ada", "name": "\x1b"}, "printable text"),
        ({"hash": VALID_HASH, "owner": "ada", "key": "qj_x"}, "unknown field 'key'"),
    ],
)
def test_a_malformed_entry_is_refused_naming_it(entry: object, problem: str) -> None:
    good = {"hash": "sha256:" + "1" * 64, "owner": "grace"}

    with pytest.raises(ConfigurationError) as refusal:
        ApiKeys.from_json(json.dumps([good, entry]), source="QUEUED_JOBS_API_KEYS")

    assert str(refusal.value).startswith("QUEUED_JOBS_API_KEYS: entry 2: ")
    assert problem in str(refusal.value)


@pytest.mark.parametrize("text", ["", "{}", '{"hash": "x"}', "[", "null"])
def test_keys_that_are_not_a_json_list_are_refused(text: str) -> None:
    with pytest.raises(ConfigurationError, match="must be a JSON list"):
        ApiKeys.from_json(text, source="QUEUED_JOBS_API_KEYS")


def test_two_entries_with_one_hash_are_refused() -> None:
    _, stored = new_api_key("ada")

    with pytest.raises(ConfigurationError, match="same hash"):
        ApiKeys([stored, ApiKey(stored.hash, "grace")])


def test_a_key_for_an_owner_no_job_could_have_is_not_made() -> None:
    with pytest.raises(InvalidInput, match="control characters"):
        new_api_key("ada\n")
