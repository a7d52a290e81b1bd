"""Every checkov finding the stack accepts, with the reason: the one list of suppressions.

Applied as checkov metadata on the resources they concern, so the template records them too."""
from __future__ import annotations

import aws_cdk as cdk

# (check id, resource types or logical ids it is accepted for, why)
SUPPRESSIONS = [
    ("CKV_AWS_117", "AWS::Serverless::Function",
     "No VPC: the functions reach SaaS vendors, agencies and AWS APIs over the internet; a VPC would add NAT "
     "gateways (cost, a single egress point) and protect nothing that IAM, KMS and TLS do not already."),
    ("CKV_AWS_115", "AWS::Serverless::Function",
     "Reserved concurrency depends on the account's limit (new accounts may have 10); set it per deployment. "
     "Downstream protection comes from SQS batch sizes, API throttling and the agency circuit breaker."),
    ("CKV_AWS_116", ("APIHandler", "EnrichSources", "SendNotices", "WriteAtsFields", "LogDeliveries"),
     "Invoked synchronously (API Gateway) or by SQS event-source mappings, whose queues have their own "
     "dead-letter queues with alarms; a function DLQ only applies to asynchronous invocations."),
    ("CKV2_AWS_57", "AWS::SecretsManager::Secret",
     "The link key is rotated by hand (a new value): no rotation Lambda. The links issued before a rotation "
     "stay valid until they expire, since the table keeps their hashes; tenants' secrets are the vendors' own."),
    ("CKV_AWS_73", "AWS::Serverless::Api",
     "No X-Ray on the API stage: its segments record the full request URL, and the page routes (/r/<token>, "
     "/u/<token>) carry Career Relay link tokens; API Gateway traces a whole stage or nothing. The functions "
     "stay traced (their segments hold no URL); the access log keeps the route template, never the path."),
    ("CKV_AWS_120", "AWS::Serverless::Api",
     "No API caching: webhooks, admin answers and the consent pages are per request and must never be "
     "served from a cache."),
]


def apply_suppressions(stack: cdk.Stack) -> None:
    for child in stack.node.find_all():
        if not isinstance(child, cdk.CfnResource):
            continue
        logical_id = child.node.id
        skips = [{"id": check, "comment": why} for check, target, why in SUPPRESSIONS
                 if (isinstance(target, str) and target == child.cfn_resource_type)
                 or (isinstance(target, tuple) and logical_id in target)]
        if skips:
            child.add_metadata("checkov", {"skip": skips})
