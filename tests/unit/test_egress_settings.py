"""Where loopback may be called (chalicelib/settings.py): the local stage of `make run`, or a process
outside Lambda that opts in with HUB_EGRESS_ALLOW_LOOPBACK=1 (tests, the bench). A deployed stage runs
in Lambda, where neither counts, and the CDK stack never sets the variable. Every vendor module with an
API names the hosts a tenant may point it at."""
from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.domain import egress as rules
from chalicelib.settings import Settings
from integrations.registry import ENRICHED, POLLED

ROOT = Path(__file__).resolve().parents[2]
LAMBDA = {"AWS_LAMBDA_FUNCTION_NAME": "relations-hub-api_handler"}


@pytest.mark.parametrize("env,allowed", [
    ({"HUB_STAGE": "local"}, True),
    ({}, True),  # HUB_STAGE defaults to local: `chalice local` and `make run`
    ({"HUB_STAGE": "test"}, False),
    ({"HUB_STAGE": "prod"}, False),
    ({"HUB_STAGE": "test", "HUB_EGRESS_ALLOW_LOOPBACK": "1"}, True),
    ({"HUB_STAGE": "bench", "HUB_EGRESS_ALLOW_LOOPBACK": "1"}, True),
    ({"HUB_STAGE": "prod", "HUB_EGRESS_ALLOW_LOOPBACK": "true"}, False),  # only the exact opt-in counts
    ({"HUB_STAGE": "local", **LAMBDA}, False),  # in Lambda, whatever the stage says
    ({**LAMBDA}, False),
    ({"HUB_STAGE": "prod", "HUB_EGRESS_ALLOW_LOOPBACK": "1", **LAMBDA}, False),
])
def test_loopback_is_allowed_only_in_the_local_stage_or_on_opt_in_outside_lambda(env, allowed):
    assert Settings.from_env(env).egress_allow_loopback is allowed


def test_the_opt_in_inside_lambda_is_ignored_loudly():
    settings = Settings.from_env({"HUB_STAGE": "prod", "HUB_EGRESS_ALLOW_LOOPBACK": "1", **LAMBDA})
    assert not settings.egress_allow_loopback and settings.egress_loopback_ignored


def test_the_cdk_stack_never_sets_the_loopback_opt_in():
    for path in (ROOT / "infra").rglob("*.py"):
        if "cdk.out" not in path.parts:
            assert "HUB_EGRESS_ALLOW_LOOPBACK" not in path.read_text(encoding="utf-8"), path
    assert "HUB_EGRESS_ALLOW_LOOPBACK" not in (ROOT / ".chalice" / "config.json").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted({**ENRICHED, **POLLED}))
def test_every_vendor_api_names_its_documented_hosts_and_its_default_is_one(name):
    module = {**ENRICHED, **POLLED}[name]
    hosts = module.API_HOSTS
    assert hosts and all(isinstance(h, str) and h == h.lower() for h in hosts)
    default = module.API_BASE_URL
    if "{" in default:  # a customer's own subdomain or path: the tenant sets api_base_url
        default = default.replace("{tenant}", "example").replace("{companyDomain}", "example")
    endpoint = rules.read_url(default)
    assert endpoint.scheme == "https" and endpoint.port == 443 and rules.host_matches(endpoint.host, hosts), default
