"""The local runner drives queue consumers and schedules the way Lambda would."""
from __future__ import annotations

import json
import types

import boto3
from chalice import Chalice, Rate
from moto import mock_aws

from tools.local_runner import LocalRunner, QueueBinding, rate_seconds


def toy_app():
    app = Chalice(app_name="toy", configure_logs=False)
    seen = {"records": [], "ticks": 0}

    @app.lambda_function(name="consume")
    def consume(event, context):
        failures = []
        for record in event["Records"]:
            body = json.loads(record["body"])
            seen["records"].append(body["n"])
            if body.get("fail") and seen["records"].count(body["n"]) < 2:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}

    @app.schedule(Rate(1, unit=Rate.HOURS))
    def tick(event):
        seen["ticks"] += 1

    module = types.SimpleNamespace(app=app, consume=consume, tick=tick)
    return module, seen


def test_records_are_delivered_failures_come_back_and_successes_are_deleted():
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        for n in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": n, "fail": n == 1}))
        module, seen = toy_app()
        runner = LocalRunner(app_module=module, sqs=sqs, queues=[QueueBinding(url, "consume")], retry_after_s=0)
        while runner.drain_once():
            pass
        assert sorted(seen["records"]) == [0, 1, 1, 2]  # the failed record was redelivered once
        assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
            "Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_schedules_fire_at_their_rate_capped_locally():
    module, seen = toy_app()
    runner = LocalRunner(app_module=module, sqs=None, schedule_cap_s=60)
    assert runner.fire_due(now=0) == ["tick"]
    assert runner.fire_due(now=30) == []
    assert runner.fire_due(now=61) == ["tick"]
    assert seen["ticks"] == 2
    assert rate_seconds(Rate(5, unit=Rate.MINUTES), cap_s=600) == 300
