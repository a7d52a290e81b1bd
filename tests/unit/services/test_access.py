"""Access: tenant-scoped admin tokens (issued, resolved, revoked) and the audit trail, newest first."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from chalicelib.domain.errors import BadRequest, NotFound, UnknownTenant
from chalicelib.domain.events import iso


def test_an_issued_token_resolves_to_its_tenant_and_creates_the_tenant(services):
    issued = services.access.issue_admin_token("acme", by="admin")

    assert set(issued) == {"id", "token", "tenant", "expires_at"} and issued["tenant"] == "acme"
    assert re.fullmatch(r"[0-9a-f]{16}", issued["id"])
    assert services.access.tenant_of(issued["token"]) == ("acme", issued["id"])
    assert services.ports.tenants.tenants() == ["acme"]


def test_each_token_is_new_and_stored_only_as_a_digest(services):
    first = services.access.issue_admin_token("acme", by="admin")
    second = services.access.issue_admin_token("acme", by="admin")

    assert first["id"] != second["id"] and first["token"] != second["token"]
    assert first["token"] not in repr(services.ports.admin_tokens.__dict__)


@pytest.mark.parametrize("forge", [
    lambda token: token.rsplit(".", 1)[0] + ".forged-secret",
    lambda token: "other." + token.split(".", 1)[1],
    lambda token: token + "x",
    lambda token: "garbage",
    lambda token: "",
    lambda token: "acme.0123456789abcdef.not-a-token",
])
def test_anything_but_a_live_token_resolves_to_nobody(services, forge):
    token = services.access.issue_admin_token("acme", by="admin")["token"]

    assert services.access.tenant_of(forge(token)) is None


def test_a_revoked_token_no_longer_resolves_and_revoking_twice_is_not_found(services):
    issued = services.access.issue_admin_token("acme", by="admin")

    assert services.access.revoke_admin_token("acme", issued["id"]) == {"revoked": issued["id"]}

    assert services.access.tenant_of(issued["token"]) is None
    with pytest.raises(NotFound):
        services.access.revoke_admin_token("acme", issued["id"])


def test_a_token_cannot_be_revoked_through_another_tenant_or_by_a_malformed_id(services):
    issued = services.access.issue_admin_token("acme", by="admin")

    with pytest.raises(NotFound):
        services.access.revoke_admin_token("other", issued["id"])
    with pytest.raises(NotFound):
        services.access.revoke_admin_token("acme", "not-an-id")
    assert services.access.tenant_of(issued["token"]) == ("acme", issued["id"])


def test_tokens_are_issued_only_for_tenant_names(services):
    with pytest.raises(UnknownTenant):
        services.access.issue_admin_token("Bad_Tenant!", by="admin")


# -- expiry, listing, last use ------------------------------------------------------------------------

def test_a_token_lives_90_days_by_default_and_an_expired_one_resolves_to_nobody(services, clock):
    issued = services.access.issue_admin_token("acme", by="admin")

    assert issued["expires_at"] == iso(clock.now() + timedelta(days=90))
    clock.advance(days=90, seconds=-1)
    assert services.access.tenant_of(issued["token"]) == ("acme", issued["id"])
    clock.advance(seconds=1)
    assert services.access.tenant_of(issued["token"]) is None  # as dead as an unknown one


@pytest.mark.parametrize("days", [1, 30, 366])
def test_the_issuer_chooses_a_life_of_one_day_to_a_year(services, clock, days):
    issued = services.access.issue_admin_token("acme", {"expires_in_days": days}, by="admin")

    assert issued["expires_at"] == iso(clock.now() + timedelta(days=days))
    clock.advance(days=days)
    assert services.access.tenant_of(issued["token"]) is None


@pytest.mark.parametrize("body", [{"expires_in_days": 0}, {"expires_in_days": 367}, {"expires_in_days": -1},
                                  {"expires_in_days": 1.5}, {"expires_in_days": "30"}, {"expires_in_days": True},
                                  {"expires_in_days": None}, {"expires": 30}])
def test_a_life_outside_one_day_to_a_year_is_refused(services, body):
    with pytest.raises(BadRequest):
        services.access.issue_admin_token("acme", body, by="admin")
    assert services.ports.admin_tokens.tokens("acme") == []


def test_tokens_are_listed_with_issuer_expiry_and_last_use_never_the_secret(services, clock):
    first = services.access.issue_admin_token("acme", by="admin")
    clock.advance(minutes=1)
    second = services.access.issue_admin_token("acme", {"expires_in_days": 1}, by="arn:aws:iam::123456789012:role/ops")
    services.access.issue_admin_token("other", by="admin")
    services.access.tenant_of(first["token"])

    listed = services.access.admin_tokens("acme")["tokens"]
    assert [t["id"] for t in listed] == [first["id"], second["id"]]
    assert set(listed[0]) == {"id", "created_at", "created_by", "expires_at", "expired", "last_used_at"}
    assert listed[0]["last_used_at"] == iso(clock.now()) and listed[1]["last_used_at"] is None
    assert (listed[1]["created_by"], listed[1]["expires_at"], listed[1]["expired"]) == \
        ("arn:aws:iam::123456789012:role/ops", second["expires_at"], False)
    assert first["token"].split(".")[2] not in repr(listed) and second["token"].split(".")[2] not in repr(listed)
    clock.advance(days=1)
    assert [t["expired"] for t in services.access.admin_tokens("acme")["tokens"]] == [False, True]


def test_the_last_use_is_written_at_most_once_an_hour(services, clock):
    issued = services.access.issue_admin_token("acme", by="admin")
    used_at = clock.now()
    for _ in range(30):
        services.access.tenant_of(issued["token"])
        clock.advance(minutes=1)

    assert services.access.admin_tokens("acme")["tokens"][0]["last_used_at"] == iso(used_at)
    clock.advance(minutes=30)
    services.access.tenant_of(issued["token"])
    assert services.access.admin_tokens("acme")["tokens"][0]["last_used_at"] == iso(clock.now())


# -- IAM principals ---------------------------------------------------------------------------------

ROLE = "arn:aws:iam::123456789012:role/hub-acme-admin"
SESSION = "arn:aws:sts::123456789012:assumed-role/hub-acme-admin/hanako"


def test_a_granted_principal_acts_for_its_tenant_only_in_any_session(services):
    granted = services.access.grant_principal("acme", {"principal": ROLE}, by="platform")

    assert granted["principal"] == ROLE and set(granted) == {"id", "principal", "granted_at", "granted_by"}
    assert services.access.may_act_for(SESSION, "acme") and services.access.may_act_for(ROLE, "acme")
    assert not services.access.may_act_for(SESSION, "other") and not services.access.may_act_for(SESSION, "Bad_Tenant!")
    assert not services.access.may_act_for("arn:aws:sts::123456789012:assumed-role/hub-other/hanako", "acme")
    assert services.access.acts_for_a_tenant(SESSION) and not services.access.acts_for_a_tenant("garbage")
    assert services.ports.tenants.tenants() == ["acme"]


def test_a_withdrawn_grant_ends_at_once(services):
    granted = services.access.grant_principal("acme", {"principal": ROLE}, by="platform")

    assert services.access.revoke_principal("acme", granted["id"]) == {"revoked": granted["id"]}
    assert not services.access.may_act_for(SESSION, "acme") and not services.access.acts_for_a_tenant(SESSION)
    assert services.access.principal_grants("acme") == {"principals": []}
    with pytest.raises(NotFound):
        services.access.revoke_principal("acme", granted["id"])
    with pytest.raises(NotFound):
        services.access.revoke_principal("acme", "not-an-id")


@pytest.mark.parametrize("body", [{}, {"principal": "hub-acme-admin"}, {"principal": ROLE, "tenant": "x"},
                                  {"principal": ["arn"]}, {"principal": "arn:aws:iam::123456789012:group/g"}])
def test_a_grant_names_one_iam_role_or_user(services, body):
    with pytest.raises(BadRequest):
        services.access.grant_principal("acme", body, by="platform")


# -- the audit trail --------------------------------------------------------------------------------

@pytest.fixture
def trail(services, clock) -> list[str]:
    """Seven admin actions a second apart, oldest first."""
    actions = [f"person.read.{i}" for i in range(7)]
    for action in actions:
        clock.advance(seconds=1)
        services.access.audit("acme", who="admin", action=action, target="p_1")
    return actions


def test_audit_entries_say_who_did_what_to_which_record_newest_first(services, trail):
    page = services.access.audit_entries("acme", {})

    assert page["next"] is None
    assert [e["action"] for e in page["entries"]] == trail[::-1]
    assert all(e["who"] == "admin" and e["target"] == "p_1" and e["at"] for e in page["entries"])
    assert [e["at"] for e in page["entries"]] == sorted((e["at"] for e in page["entries"]), reverse=True)


def test_audit_pages_give_the_same_entries(services, trail):
    everything = services.access.audit_entries("acme", {"limit": "100"})["entries"]
    pages, cursor, count = [], None, 0
    while True:
        page = services.access.audit_entries("acme", {"limit": "3", **({"cursor": cursor} if cursor else {})})
        pages += page["entries"]
        count += 1
        cursor = page["next"]
        if not cursor:
            break

    assert pages == everything and count == 3


def test_each_tenant_reads_only_its_own_trail(services, trail):
    services.access.audit("other", who="token:0123456789abcdef", action="people.search", target=None)

    assert [e["action"] for e in services.access.audit_entries("other", {})["entries"]] == ["people.search"]
    assert "people.search" not in {e["action"] for e in services.access.audit_entries("acme", {"limit": "100"})["entries"]}


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "101"}, {"limit": "ten"}, {"cursor": "%%%"}, {"cursor": "e30"}])
def test_bad_audit_queries_are_refused(services, trail, query):
    with pytest.raises(BadRequest):
        services.access.audit_entries("acme", query)


def test_the_audit_of_a_bad_tenant_name_is_refused(services):
    with pytest.raises(UnknownTenant):
        services.access.audit_entries("Bad_Tenant!", {})
