"""The hub in a company's own AWS account: safe by default, and checked (cfn-lint, checkov, tests).

Table, queues and their dead-letter queues are built from chalicelib/adapters/resources.py, the
same definitions `make run` creates locally. Chalice's CDK construct packages the app; what
Chalice cannot express (ReportBatchItemFailures, IAM on /admin, throttling) is added here."""
from __future__ import annotations

import os
import re
import sys

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
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

INFRA = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, INFRA)
import sizes  # noqa: E402

PROJECT_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, PROJECT_ROOT)
from chalicelib.adapters import resources  # noqa: E402

# The Chalice stage of .chalice/config.json that every deployed stage packages with (one role per
# function, timeouts): the same for every stack, so a stage name never has to be in that file.
CHALICE_STAGE = "aws"
STAGE_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,19}$")  # "relations-hub-<stage>-refresh_ats_links" fits 64 characters
TABLE_LOGICAL_ID = "TableCD117FA1"  # the table's logical id since the first deploy: fixed, never derived
# Log retention values CloudWatch Logs accepts (days)
RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]
# The Lambda functions chalice package makes of app.py (logical ids), and those invoked asynchronously.
# What each function touches (least privilege): its role gets exactly this.
# "senders": "register" creates tenants' SES identities (PUT .../settings), "read" reads their status.
ROLES = {
    "api_handler": {"table": "rw", "secrets": "write",
                    "send": ("enrich", "notices", "writeback", "deliveries", "agency_dead_letters"),
                    "senders": "register", "link_key": True,  # link_key: the standard answer's links
                    # the sources screen lists a tenant's dead letters and redrives one (docs/admin-api.md)
                    "redrive": ("enrich", "notices", "writeback", "deliveries")},
    "enrich_sources": {"table": "rw", "secrets": "read", "consume": ("enrich",), "send": ("notices",)},
    "send_notices": {"table": "rw", "secrets": "read", "consume": ("notices",), "mail": True, "senders": "read"},
    # the ats_field delivery: writes links into ATS fields; re-queues itself (Retry-After, the backfill's next run)
    "write_ats_fields": {"table": "rw", "secrets": "read", "consume": ("writeback",), "send": ("writeback",),
                         "link_key": True},
    "log_deliveries": {"table": "rw", "consume": ("deliveries",)},  # duplicates' delivery log entries
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
FUNCTIONS = ("APIHandler", "EnrichSources", "SendNotices", "WriteAtsFields", "LogDeliveries", *ASYNC_FUNCTIONS)
# logical id -> app.py's function name
FUNCTION_NAMES = {("APIHandler" if name == "api_handler" else "".join(p.capitalize() for p in name.split("_"))): name
                  for name in ROLES}
PUBLIC_ROUTES = ("/webhooks", "/r/", "/u/", "/health", "/console")  # /console: its own sign-in, no SigV4


def stack_name(stage: str) -> str:
    """The stack of a stage: RelationsHub-<stage>. Two stages are two stacks, never one renamed."""
    return f"RelationsHub-{stage}"


class _Runtime(Chalice):
    """Chalice's construct packages with the Chalice stage named after its scope (the stack); every
    stack here packages with CHALICE_STAGE instead, and each stage's differences come from this stack."""

    def _package_app(self) -> None:
        self.stage_name = CHALICE_STAGE
        super()._package_app()


class HubStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, stage: str, **kwargs) -> None:
        if not STAGE_PATTERN.match(stage):
            raise ValueError(f"stage {stage!r}: lower-case letters, digits and dashes, at most 20, a letter first")
        super().__init__(scope, construct_id, **kwargs)
        self.stage = stage
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
        # Its logical id is fixed and its name comes from the stack's own stage (synthesis, not a deploy
        # parameter): nothing at deploy time can rename, and so replace, the table.
        table.node.default_child.override_logical_id(TABLE_LOGICAL_ID)
        self.table = table
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
        topic = sns.Topic(self, "SesFeedback", topic_name=f"relations-hub-{stage}-ses-feedback", master_key=key)
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
        # One role per function: .chalice/config.json's stage "aws" (CHALICE_STAGE, every stack's) turns
        # Chalice's policy generation off and gives each function a base policy (logs, X-Ray) and
        # its timeout; each role is granted below exactly what that function uses.
        self.runtime = _Runtime(self, "Runtime", source_dir=PROJECT_ROOT, stage_config={
            "api_gateway_stage": "api", "xray": True, "automatic_layer": False,
            "lambda_memory_size": sizes.DEFAULT_MEMORY_MB, "environment_variables": environment})
        self._name_functions(stage, topic)
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
            for queue in needs.get("redrive", ()):  # read, hide again, delete after the send back
                self.dead_letters[queue].grant_consume_messages(role)
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
        self._function_logs(stage, key)
        self._custom_domain()
        alarm_topic = self._alarm_topic(stage, key)
        self._alarms(stage, alarm_topic)
        self._dashboard(stage)
        apply_suppressions(self)
        cdk.CfnOutput(self, "ApiUrl", value=cdk.Fn.sub("https://${RestAPI}.execute-api.${AWS::Region}.${AWS::URLSuffix}/api/"))
        cdk.CfnOutput(self, "AlarmTopicArn", value=alarm_topic.topic_arn)

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
        # no execution logs and no data trace (they would log full URLs, with link tokens, and bodies)
        api.add_property_override("MethodSettings", [
            {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 50, "ThrottlingBurstLimit": 100,
             "MetricsEnabled": True, "DataTraceEnabled": False, "LoggingLevel": "OFF"},
            {"ResourcePath": "/~1webhooks~1{tenant}~1{source}", "HttpMethod": "POST", "ThrottlingRateLimit": 200,
             "ThrottlingBurstLimit": 400, "MetricsEnabled": True, "DataTraceEnabled": False, "LoggingLevel": "OFF"},
            {"ResourcePath": "/~1console~1auth~1callback", "HttpMethod": "GET", "ThrottlingRateLimit": 5,
             "ThrottlingBurstLimit": 20, "MetricsEnabled": True, "DataTraceEnabled": False, "LoggingLevel": "OFF"},
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

    def _name_functions(self, stage: str, feedback: sns.Topic) -> None:
        """Every function named relations-hub-<stage>-<app.py name>, with its memory from infra/sizes.py;
        the API named relations-hub-<stage>; the feedback function subscribed to this stage's topic."""
        for logical_id, name in FUNCTION_NAMES.items():
            function = self.runtime.get_resource(logical_id)
            function.add_property_override("FunctionName", function_name(stage, name))
            function.add_property_override("MemorySize", sizes.memory_mb(name))
        self.runtime.get_resource("SesFeedback").add_property_override(
            "Events.SesFeedbackSnsSubscription.Properties.Topic", feedback.topic_arn)
        api = self.runtime.get_resource("RestAPI")
        api.add_property_override("Name", f"relations-hub-{stage}")
        api.add_property_override("DefinitionBody.info.title", f"relations-hub-{stage}")

    def _access_logs(self, key: kms.Key) -> None:
        """API access logs without request paths (they hold link tokens) or bodies. No X-Ray on the API
        stage (its segments record the full request URL, and /r/<token>, /u/<token> carry link tokens:
        API Gateway cannot trace some routes and not others); no execution logs, no data trace (they
        would log URLs and bodies). The functions stay traced: their segments hold no URL."""
        key.grant_encrypt_decrypt(iam.ServicePrincipal(f"logs.{self.region}.amazonaws.com"))
        group = logs.LogGroup(self, "ApiAccessLogs", retention=logs.RetentionDays.ONE_YEAR, encryption_key=key,
                              removal_policy=cdk.RemovalPolicy.RETAIN)
        api = self.runtime.get_resource("RestAPI")
        api.add_property_override("TracingEnabled", False)
        api.add_property_override("AccessLogSetting", {
            "DestinationArn": group.log_group_arn,
            "Format": '{"requestId":"$context.requestId","time":"$context.requestTime","route":"$context.resourcePath",'
                      '"method":"$context.httpMethod","status":"$context.status","latency":"$context.responseLatency"}'})

    def _function_logs(self, stage: str, key: kms.Key) -> None:
        """Each function's log group, made by the stack before the function (so Lambda never makes one
        without retention): KMS-encrypted, kept LogRetentionDays (a parameter, default 90)."""
        retention = cdk.CfnParameter(self, "LogRetentionDays", type="Number", default="90", allowed_values=[
            str(days) for days in RETENTION_DAYS], description="days the functions' log groups keep their lines")
        self.log_groups: dict[str, logs.LogGroup] = {}
        for logical_id, name in FUNCTION_NAMES.items():
            group = logs.LogGroup(self, f"{logical_id}Logs", log_group_name=f"/aws/lambda/{function_name(stage, name)}",
                                  encryption_key=key, removal_policy=cdk.RemovalPolicy.DESTROY)
            cfn_group = group.node.default_child
            cfn_group.add_property_override("RetentionInDays", retention.value_as_number)
            self.runtime.get_resource(logical_id).node.add_dependency(cfn_group)
            self.log_groups[logical_id] = group

    def _custom_domain(self) -> None:
        """With CDK context domainName and certificateArn (an ACM certificate in the stack's region for
        that name), the API answers at https://<domainName>: a regional custom domain mapped to the
        API's stage, so the first deploy already has its public address (PublicUrl)."""
        domain_name = self.node.try_get_context("domainName")
        certificate = self.node.try_get_context("certificateArn")
        if not domain_name and not certificate:
            return
        if not (domain_name and certificate):
            raise ValueError("a custom domain needs both domainName and certificateArn")
        # SAM's Domain on the API: the regional domain name and its base path mapping (made after the stage)
        self.runtime.get_resource("RestAPI").add_property_override("Domain", {
            "DomainName": domain_name, "CertificateArn": certificate, "EndpointConfiguration": "REGIONAL",
            "BasePath": ["/"], "SecurityPolicy": "TLS_1_2"})
        cdk.CfnOutput(self, "CustomDomain", value=f"https://{domain_name}",
                      description="the hub's address; point DNS at the domain's regional name "
                                  "(aws apigateway get-domain-name --domain-name ... --query regionalDomainName)")

    def _alarm_topic(self, stage: str, key: kms.Key) -> sns.Topic:
        """The stage's alarm topic (KMS), and an e-mail subscription when AlarmEmail is given."""
        email = cdk.CfnParameter(self, "AlarmEmail", type="String", default="",
                                 allowed_pattern="^$|^[^\\s@]+@[^\\s@]+$",
                                 description="address that receives the alarms (confirm the subscription mail); "
                                             "empty: subscribe the topic yourself (chat, paging)")
        topic = sns.Topic(self, "Alarms", topic_name=f"relations-hub-{stage}-alarms", master_key=key)
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        key.grant(cloudwatch_principal, "kms:Decrypt", "kms:GenerateDataKey*")  # alarms publish to an encrypted topic
        topic.add_to_resource_policy(iam.PolicyStatement(
            actions=["sns:Publish"], principals=[cloudwatch_principal], resources=[topic.topic_arn],
            conditions={"StringEquals": {"AWS:SourceAccount": self.account}}))
        has_email = cdk.CfnCondition(self, "HasAlarmEmail",
                                     expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(email.value_as_string, "")))
        subscription = sns.CfnSubscription(self, "AlarmEmailSubscription", topic_arn=topic.topic_arn, protocol="email",
                                           endpoint=email.value_as_string)
        subscription.cfn_options.condition = has_email
        return topic

    def _alarm(self, construct_id: str, description: str, metric: cloudwatch.IMetric, *, threshold: float,
               evaluation_periods: int = 1, datapoints: int | None = None,
               comparison=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
               missing=cloudwatch.TreatMissingData.NOT_BREACHING) -> cloudwatch.Alarm:
        """An alarm that reaches someone: the stage's topic when it fires and when it clears.
        Its runbook row is in docs/operations.md under the same name (a test compares them)."""
        alarm = cloudwatch.Alarm(self, construct_id, alarm_name=f"relations-hub-{self.stage}-{construct_id}",
                                 alarm_description=f"{description} (runbook: docs/operations.md, {construct_id})",
                                 metric=metric, threshold=threshold, comparison_operator=comparison,
                                 evaluation_periods=evaluation_periods, datapoints_to_alarm=datapoints,
                                 treat_missing_data=missing)
        alarm.add_alarm_action(self._notify)
        alarm.add_ok_action(self._notify)
        return alarm

    def _alarms(self, stage: str, topic: sns.Topic) -> None:
        self._notify = cloudwatch_actions.SnsAction(topic)
        five = cdk.Duration.minutes(5)
        for name, queue in self.dead_letters.items():
            self._alarm(f"{_camel(name)}DeadLetterAlarm", f"messages in the {name} dead-letter queue",
                        queue.metric_approximate_number_of_messages_visible(period=five, statistic="Maximum"),
                        threshold=0)
        self._alarm("Api5xxAlarm", "more than 5% of the API's answers were 5xx, two 5-minute periods of three",
                    cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name="5XXError",
                                      dimensions_map={"ApiName": f"relations-hub-{stage}"}, statistic="Average",
                                      period=five),
                    threshold=0.05, evaluation_periods=3, datapoints=2)
        for logical_id, name in FUNCTION_NAMES.items():
            self._alarm(f"{logical_id}ThrottlesAlarm", f"Lambda throttled {name}",
                        self._lambda_metric("Throttles", stage, name, "Sum", five), threshold=0)
        for name, rate in self._schedules().items():
            period = min(rate, cdk.Duration.days(1).to_seconds())
            self._alarm(f"{_camel(name)}DidNotRunAlarm", f"the scheduled job {name} did not run in its period",
                        self._lambda_metric("Invocations", stage, name, "Sum", cdk.Duration.seconds(max(period, 60))),
                        threshold=1, evaluation_periods=2 if period < 86400 else 1,
                        comparison=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                        missing=cloudwatch.TreatMissingData.BREACHING)
        self._alarm("NoticeFailedAlarm", "notices failed to send (each retry counts), 5 or more in 15 minutes",
                    _hub_metric("NoticeFailed", "Sum", cdk.Duration.minutes(15)), threshold=5,
                    comparison=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD)
        self._alarm("AgencyBatchParkedAlarm", "referrals parked in the agency dead-letter queue",
                    _hub_metric("AgencyBatchParked", "Sum", cdk.Duration.hours(1)), threshold=0)
        self._alarm("AgencyCircuitOpenAlarm", "an agency is paused or its circuit is open",
                    _hub_metric("AgencyCircuitOpen", "Sum", cdk.Duration.hours(1)), threshold=0)
        # SourceFailing has the dimension source (which vendor): a Metrics Insights query sums every source
        self._alarm("SourceFailingAlarm", "a source's credentials were refused (poll or ATS write)",
                    cloudwatch.MathExpression(
                        expression='SELECT SUM(SourceFailing) FROM SCHEMA("RelationsHub", service,source)',
                        using_metrics={}, label="SourceFailing", period=cdk.Duration.minutes(15)),
                    threshold=0)
        self._alarm("SenderUnverifiedAlarm", "a tenant's sender is still not verified a day after it was registered",
                    _hub_metric("SenderUnverified", "Maximum", cdk.Duration.hours(1)), threshold=0)
        self._alarm("TableThrottlesAlarm", "DynamoDB throttled requests to the table",
                    self.table.metric("ThrottledRequests", statistic="Sum", period=five,
                                      dimensions_map={"TableName": self.table.table_name}), threshold=0)

    def _dashboard(self, stage: str) -> None:
        """One dashboard per stage: what came in, what went out, what waits, what the platform did."""
        five = cdk.Duration.minutes(5)
        hour = cdk.Duration.hours(1)

        def by_source(metric: str) -> cloudwatch.MathExpression:
            return cloudwatch.MathExpression(
                expression=f"SEARCH('{{RelationsHub,service,source}} MetricName=\"{metric}\"', 'Sum', 300)",
                using_metrics={}, label=metric, period=five)

        def hub(*names: str, period: cdk.Duration = five) -> list[cloudwatch.IMetric]:
            return [_hub_metric(name, "Sum", period) for name in names]

        def lambdas(metric: str, statistic: str) -> list[cloudwatch.IMetric]:
            return [self._lambda_metric(metric, stage, name, statistic, five) for name in FUNCTION_NAMES.values()]

        def graph(title: str, metrics: list[cloudwatch.IMetric], width: int = 8) -> cloudwatch.GraphWidget:
            return cloudwatch.GraphWidget(title=title, left=metrics, width=width, height=6)

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"relations-hub-{stage}",
                                         default_interval=cdk.Duration.days(1))
        dashboard.add_widgets(
            graph("Deliveries accepted by source", [by_source("DeliveryAccepted")]),
            graph("Deliveries refused by source", [by_source("DeliveryRefused")]),
            graph("Events recorded", hub("EventsRecorded", "PolledEvents", "WebhookAccepted", "RequestRefused")))
        dashboard.add_widgets(
            graph("Notices sent, failed, parked", hub("NoticeSent", "NoticeFailed", "NoticeWaiting", "NoticesReleased")
                  + [self.dead_letters["notices"].metric_approximate_number_of_messages_visible(period=five)]),
            graph("Consents (Career Relay, daily KPIs)", [_kpi_total("CareerRelayConsents", hour),
                                                          *hub("RelayDecisionSaved", "Unsubscribed")]),
            graph("Referrals sent and accepted, slots", hub("ReferralsSent", "AgencyBatchParked", "AgencyCircuitOpen")
                  + [_kpi_total(name, hour) for name in ("CareerRelayReferralsAccepted", "CareerRelaySlotsEarned",
                                                              "CareerRelaySlotsUsed")]))
        dashboard.add_widgets(
            graph("Dead-letter depths", [queue.metric_approximate_number_of_messages_visible(period=five, label=name)
                                         for name, queue in self.dead_letters.items()]),
            graph("Sources failing", [by_source("SourceFailing")]),
            graph("Senders not verified after a day", hub("SenderUnverified")))
        dashboard.add_widgets(
            graph("Lambda errors", lambdas("Errors", "Sum")),
            graph("Lambda durations (p95)", lambdas("Duration", "p95")),
            graph("Lambda throttles", lambdas("Throttles", "Sum")))
        dashboard.add_widgets(
            graph("DynamoDB throttles", [self.table.metric(name, statistic="Sum", period=five)
                                         for name in ("ReadThrottleEvents", "WriteThrottleEvents")], width=12),
            graph("API 4xx, 5xx", [cloudwatch.Metric(namespace="AWS/ApiGateway", metric_name=name, statistic="Sum",
                                                     dimensions_map={"ApiName": f"relations-hub-{stage}"}, period=five)
                                   for name in ("4XXError", "5XXError")], width=12))

    def _lambda_metric(self, metric: str, stage: str, name: str, statistic: str,
                       period: cdk.Duration) -> cloudwatch.Metric:
        return cloudwatch.Metric(namespace="AWS/Lambda", metric_name=metric, statistic=statistic, period=period,
                                 dimensions_map={"FunctionName": function_name(stage, name)})

    def _schedules(self) -> dict[str, int]:
        """app.py's scheduled functions and their period in seconds (from the app itself)."""
        units = {"MINUTES": 60, "HOURS": 3600, "DAYS": 86400}
        found = {}
        for source in _load_app().app.event_sources:
            expression = getattr(source, "schedule_expression", None)
            if expression is None:
                continue
            found[source.name] = expression.value * units[expression.unit.upper().rstrip("S") + "S"]
        return found


def function_name(stage: str, name: str) -> str:
    """The deployed name of app.py's function `name` in a stage."""
    return f"relations-hub-{stage}-{name}"


def _hub_metric(name: str, statistic: str, period: cdk.Duration) -> cloudwatch.Metric:
    """A metric the hub emits (Powertools, namespace RelationsHub, dimension service)."""
    return cloudwatch.Metric(namespace="RelationsHub", metric_name=name, dimensions_map={"service": "relations-hub"},
                             statistic=statistic, period=period)


def _kpi_total(name: str, period: cdk.Duration) -> cloudwatch.MathExpression:
    """A KPI the daily publish_kpis emits per tenant, summed over the tenants."""
    return cloudwatch.MathExpression(
        expression=f"SEARCH('{{RelationsHub,service,tenant}} MetricName=\"{name}\"', 'Sum', {int(period.to_seconds())})",
        using_metrics={}, label=name, period=period)


def _load_app():
    """The hub's app.py (infra/app.py shares its module name), for its route table."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("relations_hub_app", os.path.join(PROJECT_ROOT, "app.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))
