"""One spelling per IAM principal: what a grant names and what API Gateway passes on must meet."""
from __future__ import annotations

import pytest

from chalicelib.domain import principals
from chalicelib.settings import Settings

ROLE = "arn:aws:iam::123456789012:role/hub-acme-admin"


@pytest.mark.parametrize("arn,expected", [
    (ROLE, ROLE),
    ("arn:aws:iam::123456789012:role/tenants/acme/hub-acme-admin", ROLE),      # a role's path: names are unique
    ("arn:aws:sts::123456789012:assumed-role/hub-acme-admin/hanako", ROLE),     # any session of the role
    ("arn:aws:sts::123456789012:assumed-role/hub-acme-admin/hanako@example.com", ROLE),
    ("arn:aws:iam::123456789012:user/ops/taro", "arn:aws:iam::123456789012:user/taro"),
    ("arn:aws-cn:iam::123456789012:user/taro", "arn:aws-cn:iam::123456789012:user/taro"),
    ("arn:aws:iam::123456789012:root", "arn:aws:iam::123456789012:root"),
    ("arn:aws:sts::123456789012:federated-user/taro", "arn:aws:sts::123456789012:federated-user/taro"),
    (f" {ROLE} ", ROLE),
])
def test_a_principal_is_spelled_one_way(arn, expected):
    assert principals.canonical(arn) == expected


@pytest.mark.parametrize("arn", [
    None, 42, "", "hub-acme-admin", "arn:aws:s3:::bucket", "arn:aws:iam::123456789012:group/admins",
    "arn:aws:iam::123456789012:role/", "arn:aws:iam::12345:role/x", "arn:aws:sts::123456789012:assumed-role//s",
    "arn:aws:iam::123456789012:role/has space", "arn:aws:iam:us-east-1:123456789012:role/x",
    "arn:aws:iam::123456789012:role/x\nrole/y", "arn:other:iam::123456789012:role/x",
])
def test_anything_else_names_nobody(arn):
    assert principals.canonical(arn) is None


def test_a_grant_id_is_short_stable_and_per_principal():
    assert principals.grant_id(ROLE) == principals.grant_id(ROLE) != principals.grant_id(ROLE + "2")
    assert len(principals.grant_id(ROLE)) == 16


def test_the_platform_list_is_read_canonically_and_fails_closed():
    settings = Settings.from_env({"HUB_PLATFORM_PRINCIPALS": f"{ROLE}, arn:aws:sts::123456789012:assumed-role/ops/s1 nonsense"})
    assert settings.platform_principals == {ROLE, "arn:aws:iam::123456789012:role/ops"}
    assert Settings.from_env({}).platform_principals == frozenset()
