"""schemathesis against the running hub (`make run`'s stack), driven by GET /admin/openapi.json:
no generated input makes the hub fail (5xx), and every admin operation that answers with a valid
token refuses the same request without one or with a wrong one."""
from __future__ import annotations

import copy
import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import ignored_auth

from chalicelib import openapi
from tests import localhub

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("local_hub")]
AUTH = {"Authorization": f"Bearer {localhub.ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def running_hub():
    # short agency and vendor timeouts: generated endpoints lead nowhere
    with localhub.local_hub(HUB_AGENCY_TIMEOUT_S="1", HUB_LOCAL_SCHEDULE_SECONDS="3600") as hub:
        yield hub


# the description the hub serves (checked equal below), loaded here so each operation is a test
SCHEMA = schemathesis.openapi.from_dict(copy.deepcopy(openapi.document()))
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}


def test_the_served_description_is_the_one_tested(running_hub):
    served = requests.get(running_hub["url"] + "/admin/openapi.json", headers=AUTH, timeout=10)
    assert served.status_code == 200 and served.json() == json.loads(json.dumps(openapi.document()))
    assert requests.get(running_hub["url"] + "/admin/openapi.json", timeout=10).status_code == 401


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_no_generated_request_makes_the_hub_fail_and_admin_routes_need_a_token(label, running_hub):
    @given(case=OPERATIONS[label].as_strategy())
    @settings(max_examples=40, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        case.call_and_validate(base_url=running_hub["url"], headers=AUTH, checks=[not_a_server_error, ignored_auth],
                               timeout=30)

    check()
