"""The hub in a company's own AWS account: safe by default, and checked (cfn-lint, checkov, tests).

Table, queues and their dead-letter queues are built from chalicelib/adapters/resources.py, the
same definitions `make run` creates locally. Chalice's CDK construct packages the app; what
Chalice cannot express (ReportBatchItemFailures, IAM on /admin, throttling) is added here."""
from __future__ import annotations

import os
import sys

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from chalice.cdk import Chalice
from constructs import Construct

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from console import console_pool, grant_user_admin  # noqa: E402
from suppressions import apply_suppressions  # noqa: E402

PROJECT_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, PROJECT_ROOT)
from chalicelib.adapters import resources  # noqa: E402

FEEDBACK_TOPIC = "relations-hub-ses-feedback"  # app.py's on_sns_message topic
# The Lambda functions chalice package makes of app.py (logical ids), and those invoked asynchronously.
# What each function touches (least privilege): its role gets exactly this.
# "senders": "register" creates tenants' SES identities (PUT .../settings), "read" reads their status.
ROLES = {
    "api_handler": {"table": "rw", "secrets": "write", "send": ("enrich", "notices", "writeback", "agency_dead_letters"),
                    "senders": "register", "link_key": True},  # link_key: the standard answer's links
    "enrich_sources": {"table": "rw", "secrets": "read", "consume": ("enrich",), "send": ("notices",)},
    "send_notices": {"table": "rw", "secrets": "read", "consume": ("notices",), "mail": True, "senders": "read"},
    # the ats_field delivery: writes links into ATS fields; re-queues itself (Retry-After, the backfill's next run)
    "write_ats_fields": {"table": "rw", "secrets": "read", "consume": ("writeback",), "send": ("writeback",),
                         "link_key": True},
    "poll_sources": {"table": "rw", "secrets": "read", "send": ("notices", "failed_invocations")},
    "release_notices": {"table": "rw", "send": ("notices", "failed_invocations"), "senders": "read"},
    "send_referrals": {"table": "rw", "secrets": "read", "send": ("agency_dead_letters", "failed_invocations")},
    "publish_kpis": {"table": "rw", "send": ("failed_invocations",)},
    "ses_feedback": {"table": "rw", "send": ("failed_invocations",)},
    "run_nurture": {"table": "rw", "send": ("notices", "failed_invocations")},  # queues due mail; send_notices mails
    # once per link window: a backfill per ats_field source (write_ats_fields writes the new links)
    "refresh_ats_links": {"table": "rw", "send": ("writeback", "failed_invocations")},
}
ASYNC_FUNCTIONS = ("PollSources", "ReleaseNotices", "SendReferrals", "PublishKpis", "SesFeedback", "RunNurture",
                   "RefreshAtsLinks")
FUNCTIONS = ("APIHandler", "EnrichSources", "SendNotices", "WriteAtsFields", *ASYNC_FUNCTIONS)
PUBLIC_ROUTES = ("/webhooks", "/r/", "/u/", "/health", "/console")  # /console: its own sign-in, no SigV4


class HubStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        key = kms.Key(self, "DataKey", enable_key_rotation=True, description="relations hub data at rest",
                      removal_policy=cdk.RemovalPolicy.RETAIN)
        # The functions cannot name their own API's URL (a cycle: the API calls the functions), so the
        # address in the Career Relay links is given at deploy time: a custom domain, or the ApiUrl
        # output of a first deploy.
        public_url = cdk.CfnParameter(self, "PublicUrl", type="String", allowed_pattern="^https://[^\\s]+[^/]$",
                                      description="https address of the hub that the Career Relay links use "
                                                  "(custom domain, or the ApiUrl output without the trailing slash)")

        # -- the table -------------------------------------------------------------------------
        key_names = resources.TABLE["key"]
        table = dynamodb.Table(
            self, "Table", table_name=f"relations-hub-{stage}",
            partition_key=dynamodb.Attribute(name=key_names[0][0], type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=key_names[1][0], type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(point_in_time_recovery_enabled=True),
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED, encryption_key=key,
            time_to_live_attribute=resources.TABLE["ttl_attribute"], removal_policy=cdk.RemovalPolicy.RETAIN,
            deletion_protection=True)
        for index, keys in resources.TABLE["indexes"].items():
            table.add_global_secondary_index(
                index_name=index,
                partition_key=dynamodb.Attribute(name=keys[0][0], type=dynamodb.AttributeType.STRING),
                sort_key=dynamodb.Attribute(name=keys[1][0], type=dynamodb.AttributeType.STRING))

        # -- queues, each with a dead-letter queue and an alarm on it ---------------------------------
        self.queues: dict[str, sqs.Queue] = {}
        self.dead_letters: dict[str, sqs.Queue] = {}
        environment = {"HUB_STAGE": stage, "HUB_TABLE": table.table_name, "POWERTOOLS_SERVICE_NAME": "relations-hub",
                       "POWERTOOLS_METRICS_NAMESPACE": "RelationsHub", "HUB_SECRETS_PREFIX": f"relations-hub/{stage}"}
        for name, spec in resources.QUEUES.items():
            dlq = sqs.Queue(self, f"{_camel(name)}DeadLetters", queue_name=resources.queue_name(stage, name) + "-dlq",
                            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
                            retention_period=cdk.Duration.days(14), enforce_ssl=True)
            queue = sqs.Queue(self, f"{_camel(name)}Queue", queue_name=resources.queue_name(stage, name),
                              encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
                              retention_period=cdk.Duration.days(14), enforce_ssl=True,
                              visibility_timeout=cdk.Duration.seconds(6 * spec["timeout_s"]),
                              dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=resources.MAX_RECEIVE_COUNT))
            self.queues[name], self.dead_letters[name] = queue, dlq
            environment[resources.queue_env(name)] = queue.queue_url
        for name in resources.PARKING_QUEUES:
            parked = sqs.Queue(self, f"{_camel(name)}Parking", queue_name=resources.queue_name(stage, name),
                               encryption=sqs.QueueEncryption.KMS, encryption_master_key=key,
                               retention_period=cdk.Duration.days(14), enforce_ssl=True)
            self.dead_letters[name] = parked
            environment[resources.queue_env(name)] = parked.queue_url

        self.dead_letters["failed_invocations"] = sqs.Queue(
            self, "FailedInvocations", queue_name=f"relations-hub-{stage}-failed-invocations",
            encryption=sqs.QueueEncryption.KMS, encryption_master_key=key, retention_period=cdk.Duration.days(14),
            enforce_ssl=True)

        # -- mail: the configuration set sends bounces and complaints to the feedback topic ----------
        topic = sns.Topic(self, "SesFeedback", topic_name=FEEDBACK_TOPIC, master_key=key)
        topic.add_to_resource_policy(iam.PolicyStatement(
            actions=["sns:Publish"], principals=[iam.ServicePrincipal("ses.amazonaws.com")], resources=[topic.topic_arn],
            conditions={"StringEquals": {"AWS:SourceAccount": self.account}}))
        key.grant_encrypt_decrypt(iam.ServicePrincipal("ses.amazonaws.com"))
        config_set = ses.ConfigurationSet(self, "MailConfiguration", configuration_set_name=f"relations-hub-{stage}",
                                          suppression_reasons=ses.SuppressionReasons.BOUNCES_AND_COMPLAINTS)
        config_set.add_event_destination("Feedback", destination=ses.EventDestination.sns_topic(topic),
                                         events=[ses.EmailSendingEvent.BOUNCE, ses.EmailSendingEvent.COMPLAINT])
        environment["HUB_SES_CONFIGURATION_SET"] = config_set.configuration_set_name
        environment["HUB_ADMIN_AUTH"] = "iam"
        environment["HUB_PUBLIC_URL"] = public_url.value_as_string
        # The app itself maps each SigV4 caller to its tenants (docs/admin-api.md): these principals act
        # for every tenant (token issuance, grants); any other one only for the tenants granted to it.
        platform = cdk.CfnParameter(self, "PlatformPrincipals", type="String", default="",
                                    allowed_pattern="^[A-Za-z0-9:/+=,.@_ -]*$",
                                    description="IAM role or user ARNs (comma-separated) that administer every tenant; "
                                                "empty: no one can issue tokens or grant tenants")
        environment["HUB_PLATFORM_PRINCIPALS"] = platform.value_as_string
        # The HR console signs people in with its own user pool (infra/stacks/console.py); its routes
        # take no SigV4 (browsers cannot sign) and check the session in the app (docs/security.md).
        environment.update(console_pool(self, stage, public_url.value_as_string))

        # -- the app ---------------------------------------------------------------------------------
        # One role per function: .chalice/config.json's stage "RelationsHub" (this stack's name) turns
        # Chalice's policy generation off and gives each function a base policy (logs, X-Ray) and
        # its timeout; each role is granted below exactly what that function uses.
        self.runtime = Chalice(self, "Runtime", source_dir=PROJECT_ROOT, stage_config={
            "api_gateway_stage": "api", "xray": True, "automatic_layer": False, "lambda_memory_size": 256,
            "environment_variables": environment})
        # Tenants' secrets are <prefix>/<tenant>/...: two levels under the prefix, so the grant below
        # never reaches the platform's link key (<prefix>/link-key), which is read-only for every role.
        secrets_arn = f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:secret:relations-hub/{stage}/*/*"
        link_key = self._link_key(stage, key)
        for name, needs in ROLES.items():
            role = self.runtime.get_role(_camel(name) + "Role")
            key.grant_encrypt_decrypt(role)
            (table.grant_read_write_data if "table" in needs else table.grant_read_data)(role)
            for queue in needs.get("send", ()):
                self.queues[queue].grant_send_messages(role) if queue in self.queues else self.dead_letters[queue].grant_send_messages(role)
            for queue in needs.get("consume", ()):
                self.queues[queue].grant_consume_messages(role)
            if "secrets" in needs:
                actions = ["secretsmanager:GetSecretValue"] + (
                    ["secretsmanager:CreateSecret", "secretsmanager:PutSecretValue", "secretsmanager:DescribeSecret"]
                    if needs["secrets"] == "write" else [])
                role.add_to_principal_policy(iam.PolicyStatement(actions=actions, resources=[secrets_arn]))
            if needs.get("link_key"):
                role.add_to_principal_policy(iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"], resources=[link_key.secret_arn]))
            if "mail" in needs:
                self._grant_mail(role, stage, config_set)
            if "senders" in needs:
                self._grant_senders(role, stage, register=needs["senders"] == "register")
        self.roles = {name: self.runtime.get_role(_camel(name) + "Role") for name in ROLES}
        grant_user_admin(self, self.roles["api_handler"])  # e18-admin: the console's users screen

        # SQS consumers: Chalice never sets ReportBatchItemFailures on its own mappings, so the mappings are here.
        for name, spec in resources.QUEUES.items():
            lambda_.EventSourceMapping(
                self, f"{_camel(spec['consumer'])}FromQueue", target=self.runtime.get_function(_camel(spec["consumer"])),
                event_source_arn=self.queues[name].queue_arn, batch_size=spec["batch_size"],
                report_batch_item_failures=True)

        self._protect_admin_with_iam()
        self._harden_functions(key)
        self._access_logs(key)
        self._alarms(topic)
        apply_suppressions(self)
        cdk.CfnOutput(self, "ApiUrl", value=cdk.Fn.sub("https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/"))

    def _link_key(self, stage: str, key: kms.IKey) -> secretsmanager.Secret:
        """The key of the application links' MAC (chalicelib/domain/delivery.link_token): generated
        here, never in the table, read-only for the functions that issue links. Rotating it (a new
        value, `put-secret-value`) changes the links issued from then on; the links issued before stay
        valid until they expire, because the table keeps their hashes (docs/security.md)."""
        return secretsmanager.Secret(
            self, "LinkKey", secret_name=f"relations-hub/{stage}/link-key", encryption_key=key,
            description="relations hub: key of the application links' MAC",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}", generate_string_key="key", password_length=64, exclude_punctuation=True),
            removal_policy=cdk.RemovalPolicy.RETAIN)

    def _identities(self) -> str:
        return f"arn:{self.partition}:ses:{self.region}:{self.account}:identity/*"

    def _grant_mail(self, role: iam.IRole, stage: str, config_set: ses.ConfigurationSet) -> None:
        """Send only from the tenants' identities: those the hub registered, tagged with this stage
        (SES v2's SendEmail authorizes the identity resource, which takes aws:ResourceTag, and the
        configuration set; Service Authorization Reference, "Actions, resources, and condition keys
        for Amazon Simple Email Service v2"). An identity made by hand or by another stage is not one."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ses:SendEmail", "ses:SendRawEmail"], resources=[self._identities()],
            conditions={"StringEquals": {f"aws:ResourceTag/{resources.SENDER_STAGE_TAG}": stage}}))
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ses:SendEmail", "ses:SendRawEmail"],
            resources=[f"arn:{self.partition}:ses:{self.region}:{self.account}:configuration-set/"
                       f"{config_set.configuration_set_name}"]))

    def _grant_senders(self, role: iam.IRole, stage: str, *, register: bool) -> None:
        """Read the status of this stage's identities; register: create identities only with the
        stage and tenant tags and no other (CreateEmailIdentity and TagResource take aws:RequestTag and
        aws:TagKeys; TagResource because the tags come with the create request)."""
        role.add_to_principal_policy(iam.PolicyStatement(
            actions=["ses:GetEmailIdentity"], resources=[self._identities()],
            conditions={"StringEquals": {f"aws:ResourceTag/{resources.SENDER_STAGE_TAG}": stage}}))
        if register:
            role.add_to_principal_policy(iam.PolicyStatement(
                actions=["ses:CreateEmailIdentity", "ses:TagResource"], resources=[self._identities()],
                conditions={"StringEquals": {f"aws:RequestTag/{resources.SENDER_STAGE_TAG}": stage},
                            "Null": {f"aws:RequestTag/{resources.SENDER_TENANT_TAG}": "false"},
                            "ForAllValues:StringEquals": {"aws:TagKeys": [resources.SENDER_STAGE_TAG,
                                                                          resources.SENDER_TENANT_TAG]}}))

    def _protect_admin_with_iam(self) -> None:
        """IAM on every /admin route; the public routes (webhooks, pages, health) stay open; per-route throttling."""
        api = self.runtime.get_resource("RestAPI")
        api.add_property_override("DefinitionBody.securityDefinitions.sigv4", {
            "type": "apiKey", "name": "Authorization", "in": "header", "x-amazon-apigateway-authtype": "awsSigv4"})
        hub_app = _load_app()

        for route, methods in hub_app.app.routes.items():
            if not route.startswith("/admin"):
                continue
            path = route.replace(".", "\\.")  # a literal dot in an override path (/admin/openapi.json)
            for method in methods:
                api.add_property_override(f"DefinitionBody.paths.{path}.{method.lower()}.security", [{"sigv4": []}])
        api.add_property_override("MethodSettings", [
            {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100,
             "MetricsEnabled": True},
            {"ResourcePath": "/~1webhooks~1{tenant}~1{source}", "HttpMethod": "POST", "ThrottlingRateLimit": 200,
             "ThrottlingBurstLimit": 400, "MetricsEnabled": True},
            {"ResourcePath": "/~1console~1auth~1callback", "HttpMethod": "GET", "ThrottlingRateLimit": 5,
             "ThrottlingBurstLimit": 20, "MetricsEnabled": True},
        ])

    def _harden_functions(self, key: kms.Key) -> None:
        """Environment encrypted with the stack's key; functions invoked asynchronously (schedules,
        SNS) keep failed events in a dead-letter queue of their own, watched by an alarm."""
        failed = self.dead_letters["failed_invocations"]
        for name in FUNCTIONS:
            function = self.runtime.get_resource(name)
            function.add_property_override("KmsKeyArn", key.key_arn)
            if name in ASYNC_FUNCTIONS:
                function.add_property_override("DeadLetterQueue", {"Type": "SQS", "TargetArn": failed.queue_arn})

    def _access_logs(self, key: kms.Key) -> None:
        """API access logs without request paths (they hold link tokens) or bodies."""
        key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com"))
        group = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_YEAR, encryption_key=key,
                              removal_policy=cdk.RemovalPolicy.RETAIN)
        api = self.runtime.get_resource("RestAPI")
        api.add_property_override("TracingEnabled", True)
        api.add_property_override("AccessLogSetting", {
            "DestinationArn": group.log_group_arn,
            "Format": '{"requestId":"$context.requestId","time":"$context.requestTime","route":"$context.resourcePath",'
                      '"method":"$context.httpMethod","status":"$context.status","latency":"$context.responseLatency"}'})

    def _alarms(self, topic: sns.Topic) -> None:
        for name, queue in self.dead_letters.items():
            cloudwatch.Alarm(self, f"{_camel(name)}DeadLetterAlarm", alarm_description=f"messages in the {name} dead-letter queue",
                             metric=queue.metric_approximate_number_of_messages_visible(period=cdk.Duration.minutes(5)),
                             threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                             evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        cloudwatch.Alarm(self, "Api5xxAlarm", alarm_description="the API answered 5xx",
                         metric=cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name="5XXError",
                                                  dimensions_map={"ApiName": "relations-hub"},
                                                  statistic="Sum", period=cdk.Duration.minutes(5)),
                         threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                         evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        cloudwatch.Alarm(self, "ThrottlesAlarm", alarm_description="Lambda throttled",
                         metric=cloudwatch.Metric(namespace="AWS/Lambda", metric_name="Throttles", statistic="Sum",
                                                  period=cdk.Duration.minutes(5)),
                         threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                         evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)
        cloudwatch.Alarm(self, "AgencyCircuitOpenAlarm", alarm_description="an agency is paused (circuit open)",
                         metric=cloudwatch.Metric(namespace="RelationsHub", metric_name="AgencyCircuitOpen",
                                                  dimensions_map={"service": "relations-hub"}, statistic="Sum",
                                                  period=cdk.Duration.hours(1)),
                         threshold=0, comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                         evaluation_periods=1, treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING)


def _load_app():
    """The hub's app.py (infra/app.py shares its module name), for its route table."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("relations_hub_app", os.path.join(PROJECT_ROOT, "app.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
