"""Ingest: what one webhook costs. Child process: `python -m bench.ingest <answer.json> <timed> <label>`.

The handler runs in process through Chalice's test client (`chalice.test.Client(app)`: the same
route, middleware and handler Lambda runs, minus API Gateway) against the embedded endpoint. The
baseline is a bare PutItem (boto3) of an item the size of the person profile the hub writes, to
the same endpoint and table, timed in alternating blocks with the webhooks so that noise on the
machine falls on both alike."""
from __future__ import annotations

import os
import time

from bench import common, counting

WARM_UP = 50
COUNTED = 100   # new events, then the same deliveries again as duplicates
BLOCK = 25      # webhooks, then bare puts, alternately


def measure(timed: str = "400", label: str = "patched") -> dict:
    import boto3
    from chalice.test import Client

    from app import app
    from chalicelib.adapters.dynamo import keys

    recorder = counting.RECORDER
    table = os.environ["HUB_TABLE"]
    common.set_up_tenant()
    dynamodb = boto3.client("dynamodb")
    numbers = iter(range(10**9))

    def new_webhook() -> tuple[dict, bytes]:
        return common.rejection(next(numbers))

    with Client(app, stage_name="local") as client:
        sent = [new_webhook() for _ in range(WARM_UP)]
        for headers, body in sent:
            common.post(client, headers, body)
        profile = _profile_item(dynamodb, table)

        def bare_put(n: int) -> None:
            dynamodb.put_item(TableName=table, Item={**profile, "pk": {"S": keys.person_pk("bench-bare", str(n))}})

        for n in range(WARM_UP):
            bare_put(n)
        answer = {"endpoint": label, "handler": "chalice.test.Client(app).http.post, in process"}
        if label == "patched":
            answer.update(_counted(client, recorder, dynamodb, table, new_webhook))
        # timed, alternating blocks; the counting hooks stay installed but off
        recorder.enabled = False
        webhook_s, duplicate_s, put_s, own_s = [], [], [], []

        def webhook(delivery: tuple[dict, bytes]) -> float:
            in_aws = recorder.aws_s
            elapsed = common.timed(lambda: common.post(client, *delivery))
            own_s.append(elapsed - (recorder.aws_s - in_aws))
            return elapsed

        for block in range(int(timed) // BLOCK):
            deliveries = [new_webhook() for _ in range(BLOCK)]
            webhook_s += [webhook(d) for d in deliveries]
            put_s += [common.timed(lambda n=n: bare_put(n)) for n in range(block * BLOCK + WARM_UP, (block + 1) * BLOCK + WARM_UP)]
            duplicate_s += [common.timed(lambda d=d: common.post(client, *d)) for d in deliveries]
    webhook, put, duplicate, own = (common.percentiles(s) for s in (webhook_s, put_s, duplicate_s, own_s))
    answer.update({"webhook": webhook, "duplicate": duplicate, "bare_put": put,
                   "bare_put_item_bytes": counting.item_size(profile),
                   "ratio_to_bare_put": round(webhook["p50_ms"] / put["p50_ms"], 2),
                   "duplicate_ratio_to_bare_put": round(duplicate["p50_ms"] / put["p50_ms"], 2),
                   "own": own, "own_ratio_to_bare_put": round(own["p50_ms"] / put["p50_ms"], 2)})
    return answer


def _profile_item(dynamodb, table: str) -> dict:
    """One person profile as the hub stored it (the largest item a new event writes)."""
    from chalicelib.adapters.dynamo import keys
    from chalicelib.domain.people import new_person_id

    pk, sk = keys.profile_key(common.TENANT, new_person_id(common.TENANT, common.SOURCE, "cand-0"))
    return dynamodb.get_item(TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True)["Item"]


def _counted(client, recorder: counting.Recorder, dynamodb, table: str, new_webhook) -> dict:
    """Requests and units per new event and per duplicate, and per notice sent (untimed, hooks on)."""
    deliveries = [new_webhook() for _ in range(COUNTED)]
    per_event = {}
    for kind, runs in (("new", deliveries), ("duplicate", deliveries)):
        recorder.reset()
        recorder.enabled = recorder.detail = True
        receipts = [common.post(client, headers, body) for headers, body in runs]
        recorder.enabled = False
        recorder.settle_update_sizes(lambda key: dynamodb.get_item(TableName=table, Key=key).get("Item"))
        assert all(r["duplicates"] == (kind == "duplicate") for r in receipts), receipts[:3]
        per_event[kind] = _per(recorder, COUNTED)
    notices = _notices(recorder, dynamodb, table)
    return {"ddb_requests_per_new_event": per_event["new"]["ddb_requests"],
            "ddb_requests_per_duplicate": per_event["duplicate"]["ddb_requests"],
            "write_units_per_new_event": per_event["new"]["write_units"],
            "read_units_per_new_event": per_event["new"]["read_units"],
            "write_units_per_duplicate": per_event["duplicate"]["write_units"],
            "read_units_per_duplicate": per_event["duplicate"]["read_units"],
            "calls_per_new_event": per_event["new"]["calls"],
            "calls_per_duplicate": per_event["duplicate"]["calls"],
            "notice": notices}


def _per(recorder: counting.Recorder, n: int) -> dict:
    return {"ddb_requests": recorder.total("dynamodb") / n,
            "ddb_writes": recorder.total("dynamodb", counting.WRITE_OPERATIONS) / n,
            "write_units": round(recorder.writes / n, 2), "read_units": round(recorder.reads / n, 2),
            "calls": {name: round(count / n, 2) for name, count in sorted(recorder.calls.items())}}


def _notices(recorder: counting.Recorder, dynamodb, table: str) -> dict:
    """Send the notices the counted events queued, as Lambda would, counting what one costs."""
    import boto3

    import app as app_module
    from chalicelib.adapters import resources
    from tools.local_runner import LocalRunner, QueueBinding

    spec = resources.QUEUES["notices"]
    runner = LocalRunner(app_module=app_module, sqs=boto3.client("sqs"), retry_after_s=0,
                         queues=[QueueBinding(os.environ[resources.queue_env("notices")], spec["consumer"], spec["batch_size"])])
    recorder.reset()
    recorder.enabled = recorder.detail = True
    started, handed = time.perf_counter(), 0
    while True:
        batch = runner.drain_once()
        if not batch:
            break
        handed += batch
    elapsed = time.perf_counter() - started
    recorder.enabled = False
    recorder.settle_update_sizes(lambda key: dynamodb.get_item(TableName=table, Key=key).get("Item"))
    per = _per(recorder, handed)
    return {"notices": handed, "ms_per_notice": round(elapsed * 1000 / max(handed, 1), 3),
            "ses_mails_per_notice": per["calls"].get("sesv2.SendEmail", 0),
            "ddb_requests": per["ddb_requests"], "write_units": per["write_units"], "read_units": per["read_units"],
            "calls": per["calls"]}


if __name__ == "__main__":
    common.child_main(measure)
