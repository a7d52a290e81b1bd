"""The synthesized AWS stack (make synth, run by make test before pytest) holds what keeps the hub
safe: dead-letter queues, ReportBatchItemFailures, point-in-time recovery, encryption, alarms,
IAM on /admin only, least privilege."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters import resources

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "cdk.out" / "RelationsHub.template.json"
pytestmark = pytest.mark.skipif(not TEMPLATE.exists(), reason="run `make synth` first (make test does)")


@pytest.fixture(scope="module")
def template():
    return json.loads(TEMPLATE.read_text())


def of_type(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_the_table_has_pitr_kms_ttl_and_the_indexes_the_code_uses(template):
    [table] = of_type(template, "AWS::DynamoDB::Table").values()
    props = table["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True and props["SSESpecification"]["SSEType"] == "KMS"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert {i["IndexName"] for i in props["GlobalSecondaryIndexes"]} == set(resources.TABLE["indexes"])


def test_every_queue_has_a_dead_letter_queue_kms_and_room_for_its_consumer(template):
    queues = of_type(template, "AWS::SQS::Queue")
    for name, spec in resources.QUEUES.items():
        [queue] = [q for q in queues.values() if q["Properties"]["QueueName"] == f"relations-hub-prod-{name}"]
        props = queue["Properties"]
        assert props["RedrivePolicy"]["maxReceiveCount"] == 5
        assert int(props["VisibilityTimeout"]) >= 6 * spec["timeout_s"]
        assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert all("KmsMasterKeyId" in q["Properties"] for q in queues.values())


def test_every_sqs_mapping_reports_batch_item_failures(template):
    mappings = of_type(template, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == len(resources.QUEUES)
    assert all(m["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"] for m in mappings.values())


def test_alarms_watch_dead_letters_5xx_throttles_and_open_circuits(template):
    alarms = {a["Properties"].get("MetricName") for a in of_type(template, "AWS::CloudWatch::Alarm").values()}
    assert {"ApproximateNumberOfMessagesVisible", "5XXError", "Throttles", "AgencyCircuitOpen"} <= alarms
    dead_letter_alarms = [a for a in of_type(template, "AWS::CloudWatch::Alarm").values()
                          if a["Properties"].get("MetricName") == "ApproximateNumberOfMessagesVisible"]
    assert len(dead_letter_alarms) == len(resources.QUEUES) + len(resources.PARKING_QUEUES) + 1  # + failed invocations


def test_admin_routes_need_iam_and_public_routes_do_not(template):
    [api] = of_type(template, "AWS::Serverless::Api").values()
    paths = api["Properties"]["DefinitionBody"]["paths"]
    for path, methods in paths.items():
        for method, spec in methods.items():
            if method.startswith("x-") or method == "options":
                continue
            assert ("security" in spec) == path.startswith("/admin"), (path, method)
    assert api["Properties"]["MethodSettings"][0]["ThrottlingRateLimit"] > 0


def test_roles_grant_no_wildcard_actions(template):
    for policy in of_type(template, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert not [a for a in actions if a == "*" or a.endswith(":*")], statement


def test_secrets_are_reachable_only_under_the_hubs_prefix(template):
    statements = [s for p in of_type(template, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    secret_statements = [s for s in statements if any("secretsmanager" in a for a in
                                                      (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]
    assert secret_statements and all("relations-hub/prod/*" in json.dumps(s["Resource"]) for s in secret_statements)


def _actions_of_role(template, role_id):
    found = set()
    for policy in of_type(template, "AWS::IAM::Policy").values():
        if role_id in json.dumps(policy["Properties"]["Roles"]):  # the role, by Ref or by its ARN's name
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                found |= set(statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])
    return found


def test_each_function_has_its_own_role_with_only_what_it_uses(template):
    roles = of_type(template, "AWS::IAM::Role")
    functions = of_type(template, "AWS::Serverless::Function")
    assert len({json.dumps(f["Properties"]["Role"]) for f in functions.values()}) == len(functions)
    mailers = [r for r in roles if "ses:SendRawEmail" in _actions_of_role(template, r)]
    secret_writers = [r for r in roles if "secretsmanager:PutSecretValue" in _actions_of_role(template, r)]
    assert mailers == ["SendNoticesRole"] and secret_writers == ["ApiHandlerRole"]
    assert not any("secretsmanager:GetSecretValue" in _actions_of_role(template, r) for r in ("PublishKpisRole", "SesFeedbackRole"))
