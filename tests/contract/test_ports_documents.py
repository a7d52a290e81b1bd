"""The contract of Config, Tokens, Suppressions, Audit and AdminTokens, on both sides (`stores`)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain import delivery
from chalicelib.domain.errors import Conflict
from chalicelib.domain.events import iso
from chalicelib.domain.records import Document
from tests.contract.port_cases import OTHER, TENANT, person
from tests.fakes import Stores

# -- Config ---------------------------------------------------------------------------------------

def test_a_document_is_versioned_and_a_stale_write_conflicts(stores: Stores) -> None:
    config = stores.config
    assert config.get(TENANT, "settings") is None

    first = config.put(TENANT, "settings", (), {"company_name": "A"})
    assert first >= 1
    second = config.put(TENANT, "settings", (), {"company_name": "B"}, expected_version=first)
    assert second == first + 1
    with pytest.raises(Conflict):
        config.put(TENANT, "settings", (), {"company_name": "C"}, expected_version=first)
    assert config.get(TENANT, "settings") == Document({"company_name": "B"}, second)
    assert config.put(TENANT, "settings", (), {"company_name": "D"}) == second + 1  # without a version: the last write wins
    assert config.get(OTHER, "settings") is None


def test_documents_are_named_by_kind_and_names(stores: Stores) -> None:
    config = stores.config
    config.put(TENANT, "agency", ("beta",), {"slug": "beta"})
    config.put(TENANT, "agency", ("alpha",), {"slug": "alpha"})
    config.put(TENANT, "segment", ("alpha",), {"expression": "role:rejected"})
    config.put(TENANT, "template", ("rejection", "ja"), {"subject": "ja"})
    config.put(TENANT, "template", ("rejection", "en"), {"subject": "en"})
    config.put(TENANT, "template", ("nurture", "en"), {"subject": "nurture en"})
    config.put(OTHER, "agency", ("gamma",), {"slug": "gamma"})

    assert sorted(d.data["slug"] for d in config.list(TENANT, "agency")) == ["alpha", "beta"]
    assert [d.data for d in config.list(TENANT, "segment")] == [{"expression": "role:rejected"}]
    assert sorted(d.data["subject"] for d in config.list(TENANT, "template")) == ["en", "ja", "nurture en"]
    template = config.get(TENANT, "template", ("rejection", "en"))
    assert template is not None and template.data == {"subject": "en"} and template.version >= 1
    assert config.get(TENANT, "agency", ("alpha",)) == Document({"slug": "alpha"}, 1)
    assert config.get(TENANT, "agency", ("gamma",)) is None and config.get(TENANT, "campaign", ("alpha",)) is None
    assert config.list(TENANT, "campaign") == [] and [d.data for d in config.list(OTHER, "agency")] == [{"slug": "gamma"}]


# issue 18, the admin API's lists
def test_documents_named_by_one_slug_come_a_page_at_a_time_in_name_order(stores: Stores) -> None:
    config = stores.config
    for slug in ("delta", "alpha", "charlie", "bravo", "echo"):
        config.put(TENANT, "segment", (slug,), {"expression": f"tag:{slug}"})
    config.put(TENANT, "campaign", ("alpha",), {"campaign": "alpha"})
    config.put(TENANT, "source_status", ("greenhouse",), {"status": "ok"})
    config.put(OTHER, "segment", ("aardvark",), {"expression": "tag:x"})

    first, after = config.page(TENANT, "segment", limit=2)
    assert [name for name, _ in first] == ["alpha", "bravo"] and after == "bravo"
    assert first[0][1] == Document({"expression": "tag:alpha"}, first[0][1].version)
    second, after = config.page(TENANT, "segment", limit=2, after=after)
    assert [name for name, _ in second] == ["charlie", "delta"] and after == "delta"
    last, after = config.page(TENANT, "segment", limit=2, after=after)
    assert [name for name, _ in last] == ["echo"] and after is None
    whole, after = config.page(TENANT, "segment", limit=100)
    assert len(whole) == 5 and after is None
    assert config.page(TENANT, "campaign", limit=10) == ([("alpha", Document({"campaign": "alpha"}, 1))], None)
    assert config.page(TENANT, "agency", limit=10) == ([], None)
    assert [name for name, _ in config.page(OTHER, "segment", limit=10)[0]] == ["aardvark"]


def test_put_once_keeps_the_first_document(stores: Stores) -> None:
    stores.config.put_once(TENANT, "consent_text", ("ja-0123",), {"text": "first", "locale": "ja"})
    stores.config.put_once(TENANT, "consent_text", ("ja-0123",), {"text": "second", "locale": "ja"})

    found = stores.config.get(TENANT, "consent_text", ("ja-0123",))
    assert found is not None and found.data == {"text": "first", "locale": "ja"}


# -- Tokens -----------------------------------------------------------------------------------------

def test_a_link_token_resolves_to_its_binding_until_it_expires(stores: Stores) -> None:
    pid = person(stores, "c1")
    until = stores.clock.now() + timedelta(days=30)
    token = stores.tokens.issue(TENANT, pid, "relay", until, notice="NOTICE#n1")
    other = stores.tokens.issue(TENANT, pid, "unsubscribe", until)

    info = stores.tokens.resolve(token)
    assert info is not None and token != other
    assert (info.tenant, info.person_id, info.purpose, info.notice, info.opened_at) == (TENANT, pid, "relay", "NOTICE#n1", None)
    assert info.valid_until == iso(until) and len(info.csrf) >= 16
    second = stores.tokens.resolve(other)
    assert second is not None and second.purpose == "unsubscribe" and second.notice is None and second.csrf != info.csrf
    stores.clock.set(until - timedelta(seconds=1))
    assert stores.tokens.resolve(token) is not None
    stores.clock.set(until)
    assert stores.tokens.resolve(token) is None


def test_a_link_is_opened_once(stores: Stores) -> None:
    token = stores.tokens.issue(TENANT, person(stores, "c1"), "relay", stores.clock.now() + timedelta(days=30))
    opened_at = stores.clock.advance(minutes=3)

    assert stores.tokens.mark_opened(token) is True
    stores.clock.advance(minutes=3)
    assert stores.tokens.mark_opened(token) is False
    info = stores.tokens.resolve(token)
    assert info is not None and info.opened_at == iso(opened_at)
    assert stores.tokens.mark_opened(f"{TENANT}.never-issued-secret") is False


def test_a_registered_token_is_kept_hashed_once_however_often_it_is_registered(stores: Stores) -> None:
    """The application links (delivery.link_token): the caller computes the token, the store keeps it."""
    pid = person(stores, "c1")
    until = stores.clock.now() + timedelta(days=60)
    token = delivery.link_token(b"k" * 48, TENANT, "standard", "a-1", 7, pid)

    assert stores.tokens.register(TENANT, token, pid, "relay", until, channel="standard_answer") is True
    info = stores.tokens.resolve(token)
    assert info is not None and (info.tenant, info.person_id, info.purpose, info.channel) == (TENANT, pid, "relay", "standard_answer")
    assert info.valid_until == iso(until) and info.notice is None
    assert stores.tokens.mark_opened(token) is True
    stores.clock.advance(minutes=5)
    assert stores.tokens.register(TENANT, token, pid, "relay", until + timedelta(days=1), channel="ats_field") is False  # a no-op
    again = stores.tokens.resolve(token)
    assert again is not None and (again.csrf, again.opened_at, again.valid_until, again.channel) == (
        info.csrf, iso(stores.clock.now() - timedelta(minutes=5)), iso(until), "standard_answer")
    held = stores.relations.held(TENANT, pid)
    assert held is not None and [link["channel"] for link in held.links] == ["standard_answer"]  # one link, not two
    with pytest.raises(ValueError):
        stores.tokens.register(OTHER, token, pid, "relay", until, channel="standard_answer")  # another tenant's token
    stores.clock.set(until)
    assert stores.tokens.resolve(token) is None


def test_unknown_and_malformed_tokens_resolve_to_nothing(stores: Stores) -> None:
    token = stores.tokens.issue(TENANT, person(stores, "c1"), "relay", stores.clock.now() + timedelta(days=1))
    secret = token.split(".", 1)[1]

    for given in (f"{TENANT}.unknown", f"{OTHER}.{secret}", "", "no-dot", f".{secret}", f"{TENANT}.", "x" * 200, secret):
        assert stores.tokens.resolve(given) is None, given


# -- Suppressions and the audit trail ---------------------------------------------------------------------

def test_suppression_reasons_accumulate_once_each(stores: Stores) -> None:
    suppressions = stores.suppressions
    assert suppressions.reasons(TENANT, "a@example.com") == []

    suppressions.add(TENANT, "a@example.com", "bounced")
    suppressions.add(TENANT, "a@example.com", "bounced")
    suppressions.add(TENANT, "a@example.com", "complained")
    assert suppressions.reasons(TENANT, "a@example.com") == ["bounced", "complained"]
    assert suppressions.reasons(TENANT, "b@example.com") == [] and suppressions.reasons(OTHER, "a@example.com") == []


def test_audit_entries_come_newest_first_in_pages(stores: Stores) -> None:
    moments = []
    for i in range(5):
        moments.append(iso(stores.clock.advance(seconds=1)))
        stores.audit.record(TENANT, who=f"admin-{i}", action="person.export", target=f"p{i}" if i else None)
    stores.audit.record(OTHER, who="someone", action="person.erase", target="p9")

    pages, before = [], None
    for _ in range(10):
        entries, before = stores.audit.entries(TENANT, limit=2, before=before)
        assert len(entries) <= 2
        pages.append(entries)
        if before is None:
            break
    found = [entry for page in pages for entry in page]
    assert [entry["who"] for entry in found] == [f"admin-{i}" for i in (4, 3, 2, 1, 0)]
    assert found[0] == {"at": moments[4], "who": "admin-4", "action": "person.export", "target": "p4"}
    assert found[-1]["target"] is None
    assert [len(page) for page in pages[:3]] == [2, 2, 1]
    assert stores.audit.entries("initech", limit=10, before=None) == ([], None)


# -- Admin tokens -----------------------------------------------------------------------------------

def test_admin_tokens_are_scoped_to_a_tenant_and_revocable(stores: Stores) -> None:
    admin = stores.admin_tokens
    until = stores.clock.now() + timedelta(days=90)
    token_id, token = admin.issue(TENANT, by="root", valid_until=until)
    second_id, second = admin.issue(TENANT, by="root", valid_until=until)

    assert token_id != second_id and token != second
    found = admin.find(token)
    assert found is not None and (found.tenant, found.id) == (TENANT, token_id)
    tenant, given_id, _ = token.split(".")
    for forged in (f"{tenant}.{given_id}.wrong-secret", f"{OTHER}.{given_id}.{token.split('.')[2]}", token + "x", "garbage", ""):
        assert admin.find(forged) is None, forged
    assert admin.revoke(OTHER, token_id) is False
    assert admin.find(token) is not None
    assert admin.revoke(TENANT, token_id) is True
    assert admin.revoke(TENANT, token_id) is False
    assert admin.find(token) is None
    assert admin.find(second) is not None


def test_admin_tokens_keep_who_issued_them_their_expiry_and_last_use_never_the_secret(stores: Stores) -> None:
    admin = stores.admin_tokens
    now = stores.clock.now()
    first_id, first = admin.issue(TENANT, by="root", valid_until=now + timedelta(days=90))
    stores.clock.advance(seconds=1)
    second_id, _ = admin.issue(TENANT, by="arn:aws:iam::123456789012:role/platform", valid_until=now + timedelta(days=1))
    admin.issue(OTHER, by="root", valid_until=now + timedelta(days=1))

    listed = admin.tokens(TENANT)
    assert [(t.id, t.created_by, t.valid_until, t.last_used_at) for t in listed] == [
        (first_id, "root", iso(now + timedelta(days=90)), None),
        (second_id, "arn:aws:iam::123456789012:role/platform", iso(now + timedelta(days=1)), None)]
    assert listed[0].created_at == iso(now) and first.split(".")[2] not in repr(listed)
    admin.mark_used(TENANT, first_id, now + timedelta(hours=2))
    assert admin.find(first).last_used_at == iso(now + timedelta(hours=2))
    admin.revoke(TENANT, first_id)
    admin.mark_used(TENANT, first_id, now + timedelta(hours=3))  # a revoked token is not brought back
    assert [t.id for t in admin.tokens(TENANT)] == [second_id] and admin.tokens("initech") == []


def test_principal_grants_name_a_tenant_each_and_are_withdrawn_with_their_mirror(stores: Stores) -> None:
    admin = stores.admin_tokens
    role, other_role = "arn:aws:iam::123456789012:role/acme-admin", "arn:aws:iam::123456789012:role/other-admin"
    assert not admin.granted(TENANT, role) and not admin.has_grants(role) and admin.grants(TENANT) == []

    first = admin.grant(TENANT, role, by="arn:aws:iam::123456789012:role/platform")
    assert (first.tenant, first.principal, first.granted_at, first.granted_by) == \
        (TENANT, role, iso(stores.clock.now()), "arn:aws:iam::123456789012:role/platform")
    stores.clock.advance(minutes=1)
    assert admin.grant(TENANT, role, by="someone else") == first  # granting again changes nothing
    admin.grant(OTHER, other_role, by="root")

    assert admin.granted(TENANT, role) and not admin.granted(OTHER, role) and not admin.granted(TENANT, other_role)
    assert admin.has_grants(role) and admin.grants(TENANT) == [first]
    assert admin.revoke_grant(OTHER, first.id) is False
    assert admin.revoke_grant(TENANT, first.id) is True and admin.revoke_grant(TENANT, first.id) is False
    assert not admin.granted(TENANT, role) and not admin.has_grants(role) and admin.grants(TENANT) == []
    assert admin.has_grants(other_role)
