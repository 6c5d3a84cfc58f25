"""App Service authentication: the client principal headers the platform adds, read into a
principal, and every malformed one refused with ``NotAuthenticated``."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from queued_jobs.errors import NotAuthenticated
from queued_jobs.web.auth import EasyAuth, Principal, Role

OBJECT_ID = "00000000-0000-0000-0000-00000000ada0"
OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"
ROLE_CLAIM = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"


def client_principal(*claims: tuple[str, str], **fields: Any) -> dict[str, Any]:
    """A client principal as App Service writes it for a Microsoft Entra sign-in."""
    return {
        "auth_typ": "aad",
        "name_typ": "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
        "role_typ": ROLE_CLAIM,
        "claims": [
            {"typ": OID_CLAIM, "val": "claimed-object-id"},
            {"typ": "name", "val": "Ada Lovelace"},
            *({"typ": typ, "val": val} for typ, val in claims),
        ],
        **fields,
    }


def encoded(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode()


def headers(document: object = None, **extra: str) -> dict[str, str]:
    """The headers App Service adds (with ``document`` as the principal)."""
    sent = {
        "X-MS-CLIENT-PRINCIPAL": encoded(client_principal() if document is None else document),
        "X-MS-CLIENT-PRINCIPAL-ID": OBJECT_ID,
        "X-MS-CLIENT-PRINCIPAL-NAME": "ada@example.com",
        "X-MS-CLIENT-PRINCIPAL-IDP": "aad",
    }
    sent.update({name.replace("_", "-"): value for name, value in extra.items()})
    return sent


async def refused(sent: dict[str, str], easy_auth: EasyAuth | None = None) -> str:
    with pytest.raises(NotAuthenticated) as refusal:
        await (easy_auth or EasyAuth()).authenticate(sent)
    return str(refusal.value)


async def test_the_signed_in_caller_is_the_principal_id_header_a_user() -> None:
    principal = await EasyAuth().authenticate(headers())

    assert principal == Principal(OBJECT_ID, frozenset({Role.USER}), "easy-auth", "ada@example.com")


async def test_app_roles_of_the_role_claim_type_and_of_roles_are_mapped() -> None:
    document = client_principal(
        (ROLE_CLAIM, "queued-jobs.reader"), ("roles", "queued-jobs.operator")
    )

    principal = await EasyAuth().authenticate(headers(document))

    assert principal is not None
    assert principal.roles == {Role.USER, Role.READER, Role.OPERATOR}


async def test_a_role_map_of_ones_own_replaces_the_default() -> None:
    document = client_principal((ROLE_CLAIM, "Job.Admins"), (ROLE_CLAIM, "queued-jobs.operator"))

    principal = await EasyAuth(role_map={"Job.Admins": Role.OPERATOR}).authenticate(
        headers(document)
    )

    assert principal is not None
    assert principal.acts_on_all
    assert principal.roles == {Role.USER, Role.OPERATOR}


async def test_a_principal_without_role_typ_reads_roles_from_the_roles_claim() -> None:
    document = client_principal(("roles", "queued-jobs.reader"), role_typ=None)
    del document["role_typ"]

    principal = await EasyAuth().authenticate(headers(document))

    assert principal is not None
    assert principal.sees_all


async def test_an_owner_claim_chooses_the_id_from_the_claims() -> None:
    principal = await EasyAuth(owner_claim=OID_CLAIM).authenticate(headers())

    assert principal is not None
    assert principal.id == "claimed-object-id"


async def test_the_name_comes_from_the_name_claim_without_the_name_header() -> None:
    sent = headers(client_principal(name_typ="name"))
    del sent["X-MS-CLIENT-PRINCIPAL-NAME"]

    principal = await EasyAuth().authenticate(sent)

    assert principal is not None
    assert principal.name == "Ada Lovelace"


async def test_a_name_no_record_could_hold_is_left_out() -> None:
    principal = await EasyAuth().authenticate(headers(X_MS_CLIENT_PRINCIPAL_NAME="\x1b[2J"))

    assert principal is not None
    assert principal.name is None


async def test_a_request_without_the_headers_is_left_to_the_next_authenticator() -> None:
    assert await EasyAuth().authenticate({"Authorization": "Bearer x.y.z"}) is None


async def test_only_the_identity_providers_named_are_accepted() -> None:
    only_entra = EasyAuth(identity_providers=["AAD"])

    assert await only_entra.authenticate(headers()) is not None
    message = await refused(headers(X_MS_CLIENT_PRINCIPAL_IDP="github"), only_entra)
    assert "identity provider" in message


async def test_one_identity_provider_may_be_named_alone() -> None:
    assert await EasyAuth(identity_providers="aad").authenticate(headers()) is not None


async def test_a_principal_id_header_without_the_principal_is_refused() -> None:
    assert "without X-MS-CLIENT-PRINCIPAL" in await refused({"X-MS-CLIENT-PRINCIPAL-ID": "x"})


async def test_a_principal_without_the_id_header_is_refused() -> None:
    sent = headers()
    del sent["X-MS-CLIENT-PRINCIPAL-ID"]

    assert "X-MS-CLIENT-PRINCIPAL-ID header is missing" in await refused(sent)


async def test_a_principal_missing_the_owner_claim_is_refused() -> None:
    assert "claim is missing" in await refused(headers(), EasyAuth(owner_claim="oid"))


async def test_an_id_no_job_could_have_is_refused() -> None:
    message = await refused(headers(X_MS_CLIENT_PRINCIPAL_ID="x" * 300))

    assert "cannot be a job owner" in message


async def test_an_oversized_principal_is_refused_unread() -> None:
    big = client_principal(*(("group", f"g{n:05}") for n in range(1000)))

    assert "over 16,384 bytes" in await refused(headers(big))


@pytest.mark.parametrize(
    "value",
    [
        "not base64!",
        "e30",  # base64 of "{}" without its padding
        base64.b64encode(b"\xff\xfe not utf-8").decode(),
        base64.b64encode(b"{not json").decode(),
        base64.b64encode(b"[" * 5000 + b"]" * 5000).decode()[:16000],
        "é" * 10,
    ],
)
async def test_a_principal_that_is_not_base64_json_is_refused(value: str) -> None:
    message = await refused(headers(X_MS_CLIENT_PRINCIPAL=value))

    assert "X-MS-CLIENT-PRINCIPAL is not" in message


@pytest.mark.parametrize(
    "document",
    [
        [],
        "principal",
        {},
        {"claims": {}},
        {"claims": [{"typ": "roles"}]},
        {"claims": [{"typ": "roles", "val": 1}]},
        {"claims": ["roles"]},
        {"claims": [], "role_typ": 7},
    ],
)
async def test_a_principal_of_another_shape_is_refused(document: object) -> None:
    message = await refused(headers(document))

    assert "not a client principal" in message


async def test_deeply_nested_base64_json_is_refused_not_crashed() -> None:
    deep = base64.b64encode(b"[" * 11_000 + b"]" * 11_000).decode()

    with pytest.raises(NotAuthenticated):
        await EasyAuth(max_principal_bytes=10**6).authenticate(headers(X_MS_CLIENT_PRINCIPAL=deep))
