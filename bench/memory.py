"""Memory: peak RSS (VmHWM) of one process replaying webhooks through the Chalice app, as one warm Lambda
container would. Child process: `python -m bench.memory <answer.json> <webhooks>`. The endpoint runs
in bench/run.py's process, so moto's memory is not counted here.

The notices queue is emptied every DRAIN_EVERY webhooks (receive and delete, uncounted; notices are
queued without delay here): in AWS the notice consumer drains it, and moto's SendMessage slows down
with every message a queue holds (about 20 ms a send at 500 queued, 70 ms at 2,000), which would make
10,000 webhooks quadratic in the endpoint. Every 5 s the child writes its progress (webhooks replayed,
peak RSS so far): a replay that runs out of time is reported with it (bench/common.py `progress_every`)."""
from __future__ import annotations

import time

from bench import common, counting

DRAIN_EVERY = 500


def measure(webhooks: str = "10000") -> dict:
    import os

    import boto3
    from chalice.test import Client

    from app import app
    from chalicelib.adapters import resources

    count = int(webhooks)
    recorder = counting.RECORDER
    common.set_up_tenant()
    with Client(app, stage_name="local") as client:
        common.post(client, *common.rejection(-1))
        before_mb = _peak_mb()
        recorder.reset()
        recorder.enabled = True
        started = time.perf_counter()
        sqs, notices = boto3.client("sqs"), os.environ[resources.queue_env("notices")]
        accepted = replayed = 0
        with common.progress_every(lambda: {"webhooks_replayed": replayed, "of": count, "accepted": accepted,
                                            "peak_rss_mb_so_far": _peak_mb(),
                                            "wall_s_so_far": round(time.perf_counter() - started, 1)}):
            for start in range(0, count, DRAIN_EVERY):
                for headers, body in common.rejections(range(start, min(count, start + DRAIN_EVERY))):
                    accepted += common.post(client, headers, body)["accepted"]
                    replayed += 1
                recorder.enabled = False
                _drain(sqs, notices)
                recorder.enabled = True
        wall_s = time.perf_counter() - started
    return {"webhooks": count, "accepted": accepted, "peak_rss_mb": _peak_mb(), "rss_mb_after_first_webhook": before_mb,
            "wall_s": round(wall_s, 1), "ms_per_webhook": round(wall_s * 1000 / count, 2),
            "ddb_requests": recorder.total("dynamodb"), "calls": dict(recorder.calls)}


def _drain(sqs, url: str) -> None:
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                                                       for n, m in enumerate(messages)])


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM). Not ru_maxrss: Linux carries that over exec from the parent,
    and the parent here holds the whole endpoint."""
    with open("/proc/self/status") as status:
        return next(round(int(line.split()[1]) / 1024, 1) for line in status if line.startswith("VmHWM:"))


if __name__ == "__main__":
    common.child_main(measure)
