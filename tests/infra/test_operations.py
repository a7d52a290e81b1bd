"""Issue 21, operable in AWS: alarms that reach someone, logs with retention and KMS, stages that
cannot collide, no link tokens in traces, a custom domain, and docs/operations.md that lists every
metric the code emits and every alarm of the stack. `make infra-check` synthesizes both templates
(prod; staging with a custom domain)."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "infra" / "cdk.out"
STAGES = ("prod", "staging")
pytestmark = pytest.mark.skipif(not all((OUT / f"RelationsHub-{s}.template.json").exists() for s in STAGES),
                                reason="run `make infra-check` first (it synthesizes prod and staging)")


@pytest.fixture(scope="module")
def templates():
    return {stage: json.loads((OUT / f"RelationsHub-{stage}.template.json").read_text()) for stage in STAGES}


@pytest.fixture(scope="module")
def prod(templates):
    return templates["prod"]


def of_type(template, kind):
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _topic(template):
    [(topic_id, _)] = [(k, v) for k, v in of_type(template, "AWS::SNS::Topic").items()
                       if v["Properties"]["TopicName"].endswith("-alarms")]
    return topic_id


# -- alarms that reach someone ------------------------------------------------------------------------

@pytest.mark.parametrize("stage", STAGES)
def test_every_alarm_has_alarm_and_ok_actions_to_the_stages_topic(templates, stage):
    template = templates[stage]
    topic = _topic(template)
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    assert alarms
    for logical_id, alarm in alarms.items():
        props = alarm["Properties"]
        assert props.get("AlarmActions") == [{"Ref": topic}], logical_id
        assert props.get("OKActions") == [{"Ref": topic}], logical_id
        assert props["AlarmName"].startswith(f"relations-hub-{stage}-")


def test_the_alarm_topic_is_encrypted_and_the_email_subscription_is_optional(prod):
    topic = of_type(prod, "AWS::SNS::Topic")[_topic(prod)]
    assert "KmsMasterKeyId" in topic["Properties"]
    [subscription] = of_type(prod, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert subscription["Condition"] in prod["Conditions"]
    assert prod["Parameters"]["AlarmEmail"]["Default"] == ""
    # CloudWatch may use the key to publish to the encrypted topic
    [key] = of_type(prod, "AWS::KMS::Key").values()
    principals = json.dumps([s.get("Principal") for s in key["Properties"]["KeyPolicy"]["Statement"]])
    assert "cloudwatch.amazonaws.com" in principals and "logs.ap-northeast-1.amazonaws.com" in principals


def _lambda_alarms(template, metric):
    return {a["Properties"]["Dimensions"][0]["Value"]: a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()
            if a["Properties"].get("MetricName") == metric and a["Properties"].get("Namespace") == "AWS/Lambda"}


def test_throttles_are_watched_per_function_by_name(prod):
    functions = {f["Properties"]["FunctionName"] for f in of_type(prod, "AWS::Serverless::Function").values()}
    throttles = _lambda_alarms(prod, "Throttles")
    assert set(throttles) == functions
    assert all(p["Dimensions"][0]["Name"] == "FunctionName" for p in throttles.values())


def test_every_scheduled_function_has_an_alarm_when_it_did_not_run(prod):
    scheduled = {f["Properties"]["FunctionName"] for f in of_type(prod, "AWS::Serverless::Function").values()
                 if any(e["Type"] == "Schedule" for e in f["Properties"].get("Events", {}).values())}
    assert len(scheduled) == 6
    runs = _lambda_alarms(prod, "Invocations")
    assert set(runs) == scheduled
    for props in runs.values():
        assert props["ComparisonOperator"] == "LessThanThreshold" and props["Threshold"] == 1
        assert props["TreatMissingData"] == "breaching"
    assert runs["relations-hub-prod-publish_kpis"]["Period"] == 86400
    assert runs["relations-hub-prod-release_notices"]["Period"] == 300


def test_alarms_cover_failures_parking_sources_agencies_senders_and_5xx(prod):
    props = [a["Properties"] for a in of_type(prod, "AWS::CloudWatch::Alarm").values()]
    names = {p.get("MetricName") for p in props}
    assert {"NoticeFailed", "AgencyBatchParked", "AgencyCircuitOpen", "SenderUnverified", "5XXError",
            "ThrottledRequests"} <= names
    [source] = [p for p in props if "SourceFailing" in json.dumps(p.get("Metrics", []))]
    assert "SELECT SUM(SourceFailing)" in source["Metrics"][0]["Expression"]
    [api] = [p for p in props if p.get("MetricName") == "5XXError"]
    assert api["Dimensions"] == [{"Name": "ApiName", "Value": "relations-hub-prod"}] and api["Statistic"] == "Average"


def test_each_stage_has_a_dashboard_with_the_operational_widgets(templates):
    for stage, template in templates.items():
        [dashboard] = of_type(template, "AWS::CloudWatch::Dashboard").values()
        assert dashboard["Properties"]["DashboardName"] == f"relations-hub-{stage}"
        body = json.dumps(dashboard["Properties"]["DashboardBody"])
        for needed in ("DeliveryAccepted", "DeliveryRefused", "EventsRecorded", "NoticeSent", "NoticeFailed",
                       "CareerRelayConsents", "ReferralsSent", "CareerRelayReferralsAccepted", "CareerRelaySlotsEarned",
                       "ApproximateNumberOfMessagesVisible", "Errors", "Duration", "Throttles",
                       "ReadThrottleEvents", "WriteThrottleEvents"):
            assert needed in body, needed


# -- logs -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stage", STAGES)
def test_every_log_group_has_retention_and_kms(templates, stage):
    groups = of_type(templates[stage], "AWS::Logs::LogGroup")
    assert groups
    for logical_id, group in groups.items():
        assert "RetentionInDays" in group["Properties"], logical_id
        assert "KmsKeyId" in group["Properties"], logical_id


def test_every_function_logs_to_a_group_the_stack_made_first_kept_log_retention_days(prod):
    groups = {g["Properties"]["LogGroupName"]: (k, g) for k, g in of_type(prod, "AWS::Logs::LogGroup").items()
              if "LogGroupName" in g["Properties"]}
    for logical_id, function in of_type(prod, "AWS::Serverless::Function").items():
        group_id, group = groups[f"/aws/lambda/{function['Properties']['FunctionName']}"]
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert group_id in function.get("DependsOn", []), logical_id
    assert prod["Parameters"]["LogRetentionDays"]["Default"] == "90"


# -- stages that cannot collide ---------------------------------------------------------------------------

NAME_KEYS = {"TableName", "QueueName", "TopicName", "Name", "LogGroupName", "AlarmName", "DashboardName",
             "UserPoolName", "Domain", "FunctionName", "RoleName", "DomainName"}


def _rendered(value, template, stack):
    """A name as CloudFormation would make it: parameters by their default, resources by stack and id."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Ref" in value:
        ref = value["Ref"]
        if ref in template.get("Parameters", {}):
            return str(template["Parameters"][ref].get("Default"))
        return f"{stack}:{ref}"
    if isinstance(value, dict) and "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_rendered(p, template, stack) for p in parts)
    return None  # an attribute of another resource: not a name this resource chooses


def _physical_names(template, stack):
    names = {}
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for key in NAME_KEYS & set(props):
            if key == "FunctionName" and resource["Type"] != "AWS::Serverless::Function":
                continue  # a reference to a function (permissions, mappings), not a name
            if key == "Name" and resource["Type"] == "AWS::SES::ConfigurationSetEventDestination":
                continue
            rendered = _rendered(props[key], template, stack)
            if rendered:
                names[rendered] = f"{logical_id}.{key}"
        if resource["Type"] == "AWS::Serverless::Api" and "Domain" in props:
            names[props["Domain"]["DomainName"]] = f"{logical_id}.Domain"
    return names


def test_two_stages_share_no_physical_name(templates):
    prod = _physical_names(templates["prod"], "RelationsHub-prod")
    staging = _physical_names(templates["staging"], "RelationsHub-staging")
    assert len(prod) > 40 and len(staging) > 40
    assert set(prod) & set(staging) == set()
    for stage, names in (("prod", prod), ("staging", staging)):
        assert all(stage in name for name in names if not name.startswith("RelationsHub-")), names


def test_every_name_and_prefix_includes_the_stage(templates):
    for stage, template in templates.items():
        text = json.dumps(template)
        assert f"relations-hub/{stage}/*/*" in text and f"relations-hub/{stage}/link-key" in text
        assert "relations-hub-ses-feedback" not in text  # the fixed topic of before: now per stage
        [feedback] = [f for k, f in of_type(template, "AWS::Serverless::Function").items() if k == "SesFeedback"]
        [topic_id] = [k for k, v in of_type(template, "AWS::SNS::Topic").items()
                      if v["Properties"]["TopicName"] == f"relations-hub-{stage}-ses-feedback"]
        assert feedback["Properties"]["Events"]["SesFeedbackSnsSubscription"]["Properties"]["Topic"] == {"Ref": topic_id}
        variables = feedback["Properties"]["Environment"]["Variables"]
        assert variables["HUB_STAGE"] == stage and variables["HUB_SECRETS_PREFIX"] == f"relations-hub/{stage}"


def test_the_tables_logical_id_and_name_cannot_change_by_a_parameter(templates):
    for stage, template in templates.items():
        [(logical_id, table)] = of_type(template, "AWS::DynamoDB::Table").items()
        assert logical_id == "TableCD117FA1"  # the id of the first deploys: a new id would be a new table
        assert table["Properties"]["TableName"] == f"relations-hub-{stage}"  # a literal: no Ref, no parameter
        assert table["DeletionPolicy"] == "Retain" and table["Properties"]["DeletionProtectionEnabled"] is True


# -- no link tokens in traces; the custom domain ------------------------------------------------------------

@pytest.mark.parametrize("stage", STAGES)
def test_the_api_stage_records_no_url_in_traces_or_execution_logs(templates, stage):
    [api] = of_type(templates[stage], "AWS::Serverless::Api").values()
    props = api["Properties"]
    assert props["TracingEnabled"] is False  # X-Ray would record /r/<token> and /u/<token>
    for setting in props["MethodSettings"]:
        assert setting["DataTraceEnabled"] is False and setting["LoggingLevel"] == "OFF", setting
    assert "$context.path" not in json.dumps(props["AccessLogSetting"])
    assert props["Name"] == f"relations-hub-{stage}"


def test_a_domain_and_certificate_give_the_api_its_custom_domain(templates):
    [prod_api] = of_type(templates["prod"], "AWS::Serverless::Api").values()
    [staging_api] = of_type(templates["staging"], "AWS::Serverless::Api").values()
    assert "Domain" not in prod_api["Properties"]
    domain = staging_api["Properties"]["Domain"]
    assert domain["DomainName"] == "relations-staging.example.co.jp" and domain["BasePath"] == ["/"]
    assert domain["CertificateArn"].startswith("arn:aws:acm:") and domain["SecurityPolicy"] == "TLS_1_2"


# -- costs from the stack ---------------------------------------------------------------------------------

def test_the_bench_prices_the_memory_the_stack_deploys(prod):
    from bench import cost
    from infra import sizes

    for function in of_type(prod, "AWS::Serverless::Function").values():
        name = function["Properties"]["FunctionName"].removeprefix("relations-hub-prod-")
        assert function["Properties"]["MemorySize"] == sizes.memory_mb(name)
        assert cost.PRICES["lambda_memory_gb"][name] == function["Properties"]["MemorySize"] / 1024


# -- docs/operations.md --------------------------------------------------------------------------------------

def _code_metrics() -> tuple[set[str], set[str]]:
    """Metric names in chalicelib (add_metric(name=...), single_metric(name=...), by_source / source_failing):
    literal names, and the literal prefixes of names built at run time (f"Notice{outcome}")."""
    literal, prefixes = set(), set()
    for path in (ROOT / "chalicelib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            func = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if func in ("add_metric", "single_metric"):
                values = [k.value for k in node.keywords if k.arg == "name"]
            elif func == "by_source":
                values = node.args[:1]
            elif func == "source_failing":
                literal.add("SourceFailing")
                continue
            else:
                continue
            for value in values:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    literal.add(value.value)
                elif isinstance(value, ast.IfExp):
                    for branch in (value.body, value.orelse):
                        prefixes |= _prefixes(branch)
                else:
                    prefixes |= _prefixes(value)
    return literal, prefixes - {""}


def _prefixes(node) -> set[str]:
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return {node.values[0].value}
    if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant):
        return {node.left.value}
    return {""}  # a name from a variable: the KPIs, checked below by their own list


def _kpi_metrics() -> set[str]:
    from chalicelib.adapters import kpi_metrics
    from chalicelib.domain.kpis import FUNNEL, RATES

    return ({"RelationsRetained", "BrandPerception"} | {kpi_metrics._camel(n) for n in RATES}
            | {"CareerRelay" + kpi_metrics._camel(n) for n in FUNNEL})


def _doc_table(heading: str) -> str:
    text = (ROOT / "docs" / "operations.md").read_text()
    return text.split(f"## {heading}")[1].split("\n## ")[0]


def test_operations_doc_has_a_row_for_every_metric_the_code_emits():
    literal, prefixes = _code_metrics()
    assert {"WebhookAccepted", "EventsRecorded", "NoticeFailed", "SourceFailing", "SenderUnverified",
            "DeliveryAccepted"} <= literal
    assert {"Notice", "Nurture", "AtsField"} <= prefixes
    rows = set(re.findall(r"^\| `([A-Za-z<>]+)`", _doc_table("Metrics"), re.M))
    missing = sorted((literal | _kpi_metrics()) - rows)
    assert not missing, f"docs/operations.md has no row for {missing}"
    assert not [p for p in prefixes if f"{p}<Outcome>" not in rows]


def test_operations_doc_has_a_row_for_every_alarm_of_the_stack(prod):
    table = _doc_table("Alarms and first response")
    named = set(re.findall(r"`([A-Za-z0-9]+Alarm)`", table))
    alarms = {a["Properties"]["AlarmName"].removeprefix("relations-hub-prod-")
              for a in of_type(prod, "AWS::CloudWatch::Alarm").values()}
    assert not sorted(alarms - named), f"docs/operations.md has no row for {sorted(alarms - named)}"
    assert not sorted(named - alarms), f"docs/operations.md names alarms the stack lacks: {sorted(named - alarms)}"
