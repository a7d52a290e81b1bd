"""Runtime settings, read from the environment when asked (Chalice's test client and local
server patch the environment per call), never at import."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta


@dataclass(frozen=True)
class Settings:
    stage: str
    table_name: str
    secrets_prefix: str
    admin_token: str | None = field(repr=False)
    public_url: str
    queue_urls: dict[str, str] = field(default_factory=dict)
    notice_delay: timedelta = timedelta(minutes=5)  # a rejection undone within it is never announced
    ses_configuration_set: str | None = None
    agency_timeout_s: float = 15.0  # read timeout of an agency call
    agency_parallelism: int = 4     # 1 against moto, whose in-process backend is not thread-safe
    # IAM principals (canonical ARNs) that act for every tenant in AWS: token issuance, grants (docs/admin-api.md)
    platform_principals: frozenset[str] = frozenset()
    # Outbound calls to loopback (127.0.0.0/8, ::1, plain http:// to them): the local stage of
    # `make run`, or HUB_EGRESS_ALLOW_LOOPBACK=1 (the tests that opt in, the bench). Never inside
    # Lambda (AWS_LAMBDA_FUNCTION_NAME set), whatever the stage or variables say: a deployed stage
    # cannot turn it on, and the CDK stack does not set the variable (tests/unit/test_egress_settings.py).
    egress_allow_loopback: bool = False
    egress_loopback_ignored: bool = False  # the variable is set inside Lambda: ignored, and logged
    # The HR console's user pool (docs/console.md): its issuer and app client; the managed login's
    # domain in AWS. The JWKS address and the password sign-in endpoint are read in the local stage
    # only (the embedded pool on loopback); elsewhere the JWKS is the issuer's and there is no password form.
    console_issuer: str = ""
    console_client_id: str = ""
    console_login_url: str | None = None
    console_jwks_url: str = ""
    console_password_api: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env  # not a default argument: tests swap os.environ
        stage = env.get("HUB_STAGE", "local")
        in_lambda = bool(env.get("AWS_LAMBDA_FUNCTION_NAME"))
        asked = env.get("HUB_EGRESS_ALLOW_LOOPBACK") == "1"
        return cls(
            stage=stage,
            table_name=env.get("HUB_TABLE", f"relations-hub-{stage}"),
            secrets_prefix=env.get("HUB_SECRETS_PREFIX", f"relations-hub/{stage}").rstrip("/"),
            admin_token=env.get("HUB_ADMIN_TOKEN") or None,
            public_url=env.get("HUB_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            notice_delay=timedelta(seconds=int(env.get("HUB_NOTICE_DELAY_SECONDS", "300"))),
            ses_configuration_set=env.get("HUB_SES_CONFIGURATION_SET") or None,
            agency_timeout_s=float(env.get("HUB_AGENCY_TIMEOUT_S", "15")),
            agency_parallelism=int(env.get("HUB_AGENCY_PARALLELISM", "4")),
            platform_principals=_principals(env.get("HUB_PLATFORM_PRINCIPALS", "")),
            egress_allow_loopback=not in_lambda and (stage == "local" or asked),
            egress_loopback_ignored=in_lambda and asked,
            **_console(env, stage),
            queue_urls={k[len("HUB_QUEUE_"):-len("_URL")].lower(): v for k, v in env.items()
                        if k.startswith("HUB_QUEUE_") and k.endswith("_URL")},
        )


def _console(env: Mapping[str, str], stage: str) -> dict[str, str | None]:
    issuer = env.get("HUB_CONSOLE_ISSUER", "").rstrip("/")
    local = stage == "local"
    return {"console_issuer": issuer, "console_client_id": env.get("HUB_CONSOLE_CLIENT_ID", ""),
            "console_login_url": (env.get("HUB_CONSOLE_LOGIN_URL") or "").rstrip("/") or None,
            "console_jwks_url": (local and env.get("HUB_CONSOLE_JWKS_URL")) or (issuer + "/.well-known/jwks.json" if issuer else ""),
            "console_password_api": (local and env.get("HUB_CONSOLE_PASSWORD_API")) or None}


def current() -> Settings:
    return Settings.from_env()


def _principals(listed: str) -> frozenset[str]:
    """HUB_PLATFORM_PRINCIPALS: ARNs separated by commas or spaces. One that is not an IAM role or
    user ARN names nobody (it is dropped: the list fails closed)."""
    from chalicelib.domain import principals

    return frozenset(p for p in (principals.canonical(arn) for arn in listed.replace(",", " ").split()) if p)
