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


def test_a_stop_is_seen_between_queues_and_between_schedules():
    import threading

    from chalice import Chalice

    app = Chalice(app_name="toy", configure_logs=False)
    stop, ran = threading.Event(), []

    @app.schedule(Rate(1, unit=Rate.HOURS))
    def first(event):
        ran.append("first")
        stop.set()  # e.g. SIGTERM arrives while this job runs

    @app.schedule(Rate(1, unit=Rate.HOURS))
    def second(event):
        ran.append("second")

    runner = LocalRunner(app_module=types.SimpleNamespace(app=app, first=first, second=second), sqs=None)
    assert runner.fire_due(now=0, stop=stop) == ["first"] and ran == ["first"]

    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        urls = [sqs.create_queue(QueueName=name)["QueueUrl"] for name in ("a", "b")]
        for url in urls:
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": 1}))
        handed = []

        def consume(event, context):
            handed.append(len(event["Records"]))
            stop.set()
            return {}

        runner = LocalRunner(app_module=types.SimpleNamespace(app=app, consume=consume), sqs=sqs,
                             queues=[QueueBinding(url, "consume") for url in urls])
        stop.clear()
        assert runner.drain_once(stop) == 1 and handed == [1]  # queue b waits for the next start


RUNNER_WITH_A_LONG_JOB = """
import threading, time, types, sys
from chalice import Chalice, Rate
from tools.local_runner import LocalRunner, stop_on_sigterm

app = Chalice(app_name="toy", configure_logs=False)

@app.schedule(Rate(1, unit=Rate.HOURS))
def long_job(event):
    print("job started", flush=True)
    time.sleep(3600)

runner = LocalRunner(app_module=types.SimpleNamespace(app=app, long_job=long_job), sqs=None)
stop = threading.Event()
stop_on_sigterm(runner, stop)
try:
    runner.run(stop)
finally:
    print("runner stopped", flush=True)
"""


def test_sigterm_stops_the_runner_at_once_even_inside_a_long_job():
    """make run's runner process: SIGTERM cuts a running job short (its next run redoes it)."""
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    child = subprocess.Popen([sys.executable, "-c", RUNNER_WITH_A_LONG_JOB], cwd=Path(__file__).resolve().parents[2],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "job started"  # waits until the job runs
        sent = time.monotonic()
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=30)
        assert time.monotonic() - sent < 5
        assert child.stdout.read().strip() == "runner stopped"
    finally:
        if child.poll() is None:
            child.kill()
