"""The HR console's user pool for `make run`: created in the embedded AWS (moto's cognito-idp), with
one user per role for tenant `default` (docs/console.md). The hub verifies the pool's ID tokens
exactly as in AWS (the JWKS the embedded endpoint serves at /<pool id>/.well-known/jwks.json); only
where the token comes from differs: the local sign-in page posts the password to the pool
(InitiateAuth, USER_PASSWORD_AUTH) instead of redirecting to the managed login."""
from __future__ import annotations

import json
import secrets
from pathlib import Path

REGION = "us-east-1"
GROUPS = ("platform-admin", "default:admin", "default:editor", "default:viewer")
USERS = (  # username, group, tenant (None: every tenant), role
    ("platform", "platform-admin", None, "platform-admin"),
    ("admin", "default:admin", "default", "admin"),
    ("editor", "default:editor", "default", "editor"),
    ("viewer", "default:viewer", "default", "viewer"),
)


def create_pool(aws_endpoint: str, hub_url: str, state: Path) -> tuple[dict[str, str], dict]:
    """The pool, its app client, groups and users. Returns the hub's environment for it and what
    was written to <state>/console-users.json."""
    import boto3

    idp = boto3.client("cognito-idp", endpoint_url=aws_endpoint, region_name=REGION)
    pool_id = idp.create_user_pool(PoolName="relations-hub-console-local")["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(
        UserPoolId=pool_id, ClientName="console", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        CallbackURLs=[f"{hub_url}/console/auth/callback"])["UserPoolClient"]["ClientId"]
    for group in GROUPS:
        idp.create_group(UserPoolId=pool_id, GroupName=group)
    users = []
    for username, group, tenant, role in USERS:
        password = "Local-" + secrets.token_urlsafe(12) + "9!"
        idp.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
        idp.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=password, Permanent=True)
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
        users.append({"username": username, "password": password, "tenant": tenant, "role": role})
    written = {"url": f"{hub_url}/console/sign-in", "users": users}
    state.mkdir(parents=True, exist_ok=True)
    (state / "console-users.json").write_text(json.dumps(written, indent=2))
    env = {
        "HUB_CONSOLE_ISSUER": f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}",  # what moto puts in `iss`
        "HUB_CONSOLE_CLIENT_ID": client_id,
        "HUB_CONSOLE_JWKS_URL": f"{aws_endpoint}/{pool_id}/.well-known/jwks.json",
        "HUB_CONSOLE_PASSWORD_API": f"{aws_endpoint}/",
    }
    return env, written
