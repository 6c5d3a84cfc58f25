"""``GET /me`` over real HTTP, against ``queued-jobs serve`` on SQLite and Azurite."""

from __future__ import annotations

from tests.support.web import ApiServer


def test_me_says_who_the_caller_is_and_what_their_roles_allow(api: ApiServer) -> None:
    seen = {}
    for caller in ("alice", "reader", "operator"):
        with api.client(caller) as http:
            response = http.get("/me")
            assert response.status_code == 200, response.text
            seen[caller] = response.json()
    assert seen["alice"] == {
        "id": "alice",
        "name": "alice",
        "roles": ["user"],
        "scheme": "api-key",
        "sees_all": False,
        "acts_on_all": False,
        "development_mode": False,
    }
    assert (seen["reader"]["id"], seen["reader"]["roles"]) == ("rita", ["reader", "user"])
    assert (seen["reader"]["sees_all"], seen["reader"]["acts_on_all"]) == (True, False)
    assert (seen["operator"]["id"], seen["operator"]["roles"]) == ("olga", ["operator", "user"])
    assert (seen["operator"]["sees_all"], seen["operator"]["acts_on_all"]) == (True, True)


def test_me_needs_a_principal_and_believes_no_role_header(api: ApiServer) -> None:
    with api.client(None) as anonymous:
        refused = anonymous.get("/me")
        assert refused.status_code == 401
        assert refused.json()["code"] == "not_authenticated"
    with api.client("reader") as forged:
        forged.headers["X-Queued-Jobs-Roles"] = "operator"
        assert forged.get("/me").json()["acts_on_all"] is False
