"""The synthesized AWS stack (make synth, run by make test before pytest) holds what keeps the hub
safe: dead-letter queues, ReportBatchItemFailures, point-in-time recovery, encryption, alarms,
IAM on /admin only, least privilege."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters import resources

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "cdk.out" / "RelationsHub-prod.template.json"
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
    assert {"ApproximateNumberOfMessagesVisible", "5XXError", "Throttles", "AgencyCircuitOpen", "SenderUnverified",
            "NoticeFailed", "AgencyBatchParked", "Invocations"} <= alarms
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


def _secret_statements(template):
    statements = [s for p in of_type(template, "AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    return [s for s in statements if any("secretsmanager" in a for a in
                                         (s["Action"] if isinstance(s["Action"], list) else [s["Action"]]))]


def _link_key_id(template):
    [(logical_id, secret)] = of_type(template, "AWS::SecretsManager::Secret").items()
    return logical_id, secret


def test_secrets_are_reachable_only_under_the_hubs_prefix(template):
    link_key, _ = _link_key_id(template)
    secret_statements = _secret_statements(template)
    assert secret_statements and all("relations-hub/prod/*/*" in json.dumps(s["Resource"]) or s["Resource"] == {"Ref": link_key}
                                      for s in secret_statements)


def test_the_link_key_is_a_generated_secret_the_link_issuers_may_only_read(template):
    """docs/security.md, "No raw link token at rest": the MAC key lives outside the table."""
    link_key, secret = _link_key_id(template)
    props = secret["Properties"]
    assert props["Name"] == "relations-hub/prod/link-key" and "KmsKeyId" in props
    assert props["GenerateSecretString"]["GenerateStringKey"] == "key" and props["GenerateSecretString"]["PasswordLength"] >= 64
    assert "SecretString" not in props  # generated at deploy time: the key is in no template
    on_key = [s for s in _secret_statements(template) if s["Resource"] == {"Ref": link_key}]
    assert on_key and all(s["Action"] == "secretsmanager:GetSecretValue" for s in on_key)
    readers = sorted(r for r in of_type(template, "AWS::IAM::Role") if any(
        s in on_key for p in of_type(template, "AWS::IAM::Policy").values() if r in json.dumps(p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]))
    assert readers == ["ApiHandlerRole", "WriteAtsFieldsRole"]
    # the tenants' prefix grant (writes included) is two levels deep: it never names the link key
    assert not [s for s in _secret_statements(template) if "relations-hub/prod/*" in json.dumps(s["Resource"])
                and "relations-hub/prod/*/*" not in json.dumps(s["Resource"])]


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


# -- senders bound to tenants (docs/security.md, "Senders and mail headers") --------------------------------

def _statements(template):
    for logical_id, policy in of_type(template, "AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources_ = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            yield logical_id, statement, set(actions), [json.dumps(r) for r in resources_]


def _on_identities(resource: str) -> bool:
    return ":identity/" in resource or resource in ('"*"',)


def test_no_role_may_send_from_any_identity_only_from_the_stages_tagged_ones(template):
    """No ses:SendEmail / SendRawEmail on identity/* (or *) without the stage tag: the mail role sends
    only from identities the hub registered for its tenants in this stage."""
    sending = [(s, r) for _, s, actions, r in _statements(template) if actions & {"ses:SendEmail", "ses:SendRawEmail"}]
    assert sending
    for statement, resources_ in sending:
        if any(_on_identities(r) for r in resources_):
            assert statement["Effect"] == "Allow" and statement.get("Condition") == {
                "StringEquals": {f"aws:ResourceTag/{resources.SENDER_STAGE_TAG}": "prod"}}, statement
        else:
            assert all(":configuration-set/" in r and "identity" not in r for r in resources_), statement
    unconditioned = [r for s, rs in sending if "Condition" not in s for r in rs if _on_identities(r)]
    assert unconditioned == []


def test_only_the_api_creates_sender_identities_and_only_with_the_stage_and_tenant_tags(template):
    creators = {policy for policy, _, actions, _ in _statements(template) if "ses:CreateEmailIdentity" in actions}
    assert len(creators) == 1 and "ApiHandlerRole" in next(iter(creators))
    for _, statement, actions, _ in _statements(template):
        if actions & {"ses:CreateEmailIdentity", "ses:TagResource"}:
            condition = statement["Condition"]
            assert condition["StringEquals"] == {f"aws:RequestTag/{resources.SENDER_STAGE_TAG}": "prod"}
            assert condition["Null"] == {f"aws:RequestTag/{resources.SENDER_TENANT_TAG}": "false"}
            assert sorted(condition["ForAllValues:StringEquals"]["aws:TagKeys"]) == sorted(
                [resources.SENDER_STAGE_TAG, resources.SENDER_TENANT_TAG])
        if "ses:GetEmailIdentity" in actions:
            assert statement["Condition"] == {"StringEquals": {f"aws:ResourceTag/{resources.SENDER_STAGE_TAG}": "prod"}}
    readers = {_role for _role in ("ApiHandlerRole", "SendNoticesRole", "ReleaseNoticesRole")
               if "ses:GetEmailIdentity" in _actions_of_role(template, _role)}
    assert readers == {"ApiHandlerRole", "SendNoticesRole", "ReleaseNoticesRole"}
    assert not any("ses:DeleteEmailIdentity" in a for _, _, a, _ in _statements(template))


def test_the_console_pool_has_the_managed_login_a_public_pkce_client_and_the_platform_group(template):
    [client] = of_type(template, "AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["AllowedOAuthFlows"] == ["code"] and props["AllowedOAuthFlowsUserPoolClient"] is True
    assert props.get("GenerateSecret") in (None, False)  # a public client: PKCE proves the code's owner
    assert "console/auth/callback" in json.dumps(props["CallbackURLs"])
    [pool] = of_type(template, "AWS::Cognito::UserPool").values()
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    [domain] = of_type(template, "AWS::Cognito::UserPoolDomain").values()
    assert domain["Properties"]["ManagedLoginVersion"] == 2
    groups = {g["Properties"]["GroupName"] for g in of_type(template, "AWS::Cognito::UserPoolGroup").values()}
    assert "platform-admin" in groups
    [api_function] = [f for name, f in of_type(template, "AWS::Serverless::Function").items() if name == "APIHandler"]
    variables = api_function["Properties"]["Environment"]["Variables"]
    assert {"HUB_CONSOLE_ISSUER", "HUB_CONSOLE_CLIENT_ID", "HUB_CONSOLE_LOGIN_URL"} <= set(variables)
    assert "HUB_CONSOLE_PASSWORD_API" not in variables and "HUB_CONSOLE_JWKS_URL" not in variables


def test_only_the_api_may_read_and_delete_dead_letters_and_only_of_the_queues_it_redrives(template):
    """The sources screen lists a tenant's dead letters and redrives one (docs/admin-api.md): the API's
    role reads and deletes on the enrich, notices, writeback and deliveries dead-letter queues, no other role does."""
    readers = {}
    for logical_id, _statement, actions, resources_ in _statements(template):
        if "sqs:DeleteMessage" in actions and any("DeadLetters" in r for r in resources_):
            readers.setdefault(logical_id, set()).update(r for r in resources_ if "DeadLetters" in r)
    assert len(readers) == 1 and next(iter(readers)).startswith("RuntimeApiHandlerRole")
    assert {r.split('"')[3].rstrip("0123456789ABCDEF") for r in next(iter(readers.values()))} == {
        "EnrichDeadLetters", "NoticesDeadLetters", "WritebackDeadLetters", "DeliveriesDeadLetters"}
