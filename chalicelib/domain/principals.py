"""IAM principals of the admin API in AWS (HUB_ADMIN_AUTH=iam): one spelling per principal, and
the id of a grant. API Gateway has checked the SigV4 signature; the app decides what the
principal may do: a platform principal (HUB_PLATFORM_PRINCIPALS) acts for every tenant, any other
one for the tenants granted to it (docs/admin-api.md)."""
from __future__ import annotations

import hashlib
import re

_ARN = re.compile(r"arn:(aws|aws-cn|aws-us-gov):(iam|sts)::(\d{12}):([!-~]{1,1024})")
_NAME = re.compile(r"[\w+=,.@-]{1,128}")


def canonical(arn: object) -> str | None:
    """The principal an ARN names, spelled one way: an assumed role (any session) is its role, a
    role or a user is named without its path (names are unique in an account), the account's root
    and a federated user as given. None for anything else."""
    found = _ARN.fullmatch(arn.strip()) if isinstance(arn, str) else None
    if found is None:
        return None
    partition, service, account, resource = found.groups()
    kind, _, rest = resource.partition("/")
    name = None
    if service == "sts" and kind == "assumed-role":
        kind, name = "role", rest.split("/", 1)[0]  # assumed-role/<role>/<session>
    elif service == "iam" and kind in ("role", "user"):
        name = rest.rsplit("/", 1)[-1]  # <kind>/<path>/<name>
    elif service == "iam" and resource == "root":
        return f"arn:{partition}:iam::{account}:root"
    elif service == "sts" and kind == "federated-user" and _NAME.fullmatch(rest):
        return f"arn:{partition}:sts::{account}:federated-user/{rest}"
    if name is None or not _NAME.fullmatch(name):
        return None
    return f"arn:{partition}:iam::{account}:{kind}/{name}"


def grant_id(principal: str) -> str:
    """The id of a principal's grant on a tenant (the same on every tenant): 16 hex digits."""
    return hashlib.sha256(principal.encode()).hexdigest()[:16]
