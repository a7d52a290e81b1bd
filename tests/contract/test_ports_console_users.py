"""The contract of ConsoleUsers (the console pool's admin API), on the in-memory fake and on the boto3
adapter against moto's cognito-idp; and of the audit trail's filters, on the fake and on DynamoDB."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.domain import ports
from tests.fakes import InMemoryConsoleUsers, Stores

GROUPS = ("platform-admin", "acme:admin", "acme:editor", "acme:viewer", "globex:admin")


@pytest.fixture(params=["fake", "moto"])
def users(request: pytest.FixtureRequest) -> Iterator[ports.ConsoleUsers]:
    if request.param == "fake":
        yield InMemoryConsoleUsers(groups=GROUPS)
        return
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.console_users import CognitoConsoleUsers

    with mock_aws():
        idp = boto3.client("cognito-idp", region_name="ap-northeast-1")
        pool = idp.create_user_pool(PoolName="console")["UserPool"]["Id"]
        for group in GROUPS:
            idp.create_group(UserPoolId=pool, GroupName=group)
        yield CognitoConsoleUsers(pool, "ap-northeast-1")


def test_an_invited_user_is_created_once_by_email_with_a_sub_and_no_group(users: ports.ConsoleUsers) -> None:
    created = users.create("hanako@example.jp")
    assert created.email == "hanako@example.jp" and created.subject and created.enabled and created.groups == ()
    assert created.username != "hanako@example.jp"  # a pool with an e-mail alias refuses address-shaped usernames
    again = users.create("hanako@example.jp")
    assert again.username == created.username and again.subject == created.subject
    found = users.user(created.username)
    assert found is not None and found.subject == created.subject and found.email == "hanako@example.jp"
    assert users.user("nobody-here") is None


def test_groups_are_added_and_removed_and_users_listed_by_group_each_once(users: ports.ConsoleUsers) -> None:
    a, b, c = users.create("a@example.jp"), users.create("b@example.jp"), users.create("c@example.jp")
    users.add_to_group(a.username, "acme:admin")
    users.add_to_group(b.username, "acme:viewer")
    users.add_to_group(b.username, "acme:editor")
    users.add_to_group(c.username, "globex:admin")
    listed = {u.username: u for u in users.in_groups(("acme:admin", "acme:editor", "acme:viewer"))}
    assert set(listed) == {a.username, b.username}
    assert listed[b.username].groups == ("acme:editor", "acme:viewer") and listed[b.username].role_on("acme") == "editor"
    users.remove_from_group(b.username, "acme:viewer")
    found = users.user(b.username)
    assert found is not None and found.groups == ("acme:editor",)
    assert users.in_groups(("nobody:admin",)) == []


def test_disable_and_enable(users: ports.ConsoleUsers) -> None:
    user = users.create("d@example.jp")
    users.set_enabled(user.username, False)
    found = users.user(user.username)
    assert found is not None and not found.enabled
    users.set_enabled(user.username, True)
    found = users.user(user.username)
    assert found is not None and found.enabled


# -- the audit trail's filters (e18-admin) ---------------------------------------------------------

def test_audit_filters_keep_one_actor_or_action_newest_first_across_pages(stores: Stores) -> None:
    for i in range(12):
        stores.clock.advance(seconds=1)
        stores.audit.record("acme", who="user:a" if i % 2 else "admin", action="person.tags" if i % 3 else "person.erase",
                            target=f"p{i}")
    stores.audit.record("globex", who="user:a", action="person.tags", target="x")

    def every(**filters: str) -> list[str | None]:
        found, before = [], None
        for _ in range(20):
            entries, before = stores.audit.entries("acme", limit=2, before=before, **filters)
            found.extend(entries)
            if before is None:
                break
        return [entry["target"] for entry in found]

    assert every(who="user:a") == [f"p{i}" for i in (11, 9, 7, 5, 3, 1)]
    assert every(action="person.erase") == [f"p{i}" for i in (9, 6, 3, 0)]
    assert every(who="user:a", action="person.tags") == [f"p{i}" for i in (11, 7, 5, 1)]
    assert every(who="nobody") == []


def test_a_filtered_page_reads_a_bounded_number_of_entries_and_goes_on_with_a_cursor(monkeypatch) -> None:
    """DynamoDB: a filter that matches nothing near the top does not read the whole trail in one call."""
    import os

    from moto import mock_aws

    from chalicelib.adapters.dynamo import DynamoAudit, compliance, configure
    from tests.fakes import Clock
    from tools.local_aws import provision

    monkeypatch.setattr(compliance, "AUDIT_FILTER_PAGE", 5)
    monkeypatch.setattr(compliance, "AUDIT_FILTER_BUDGET", 10)
    clock = Clock()
    with mock_aws():
        provision()
        configure(os.environ["HUB_TABLE"])
        audit = DynamoAudit(clock=clock)
        audit.record("acme", who="user:rare", action="person.erase", target="old")
        for i in range(25):
            clock.advance(seconds=1)
            audit.record("acme", who="admin", action="person.tags", target=f"p{i}")
        entries, before = audit.entries("acme", limit=10, before=None, who="user:rare")
        assert entries == [] and before is not None  # budget spent: nothing yet, and a cursor
        pages = 1
        while before is not None and not entries:
            entries, before = audit.entries("acme", limit=10, before=before, who="user:rare")
            pages += 1
        assert [e["target"] for e in entries] == ["old"] and pages == 3
