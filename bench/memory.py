"""Memory: peak RSS of one process replaying webhooks through the Chalice app, as one warm Lambda
container would. Child process: `python -m bench.memory <answer.json> <webhooks>`. The endpoint runs
in bench/run.py's process, so moto's memory is not counted here."""
from __future__ import annotations

import resource
import time

from bench import common, counting


def measure(webhooks: str = "10000") -> dict:
    from chalice.test import Client

    from app import app

    count = int(webhooks)
    recorder = counting.RECORDER
    common.set_up_tenant()
    with Client(app, stage_name="local") as client:
        common.post(client, *common.rejection(-1))
        before_mb = _peak_mb()
        recorder.reset()
        recorder.enabled = True
        started = time.perf_counter()
        accepted = sum(common.post(client, headers, body)["accepted"] for headers, body in common.rejections(range(count)))
        wall_s = time.perf_counter() - started
    return {"webhooks": count, "accepted": accepted, "peak_rss_mb": _peak_mb(), "rss_mb_after_first_webhook": before_mb,
            "wall_s": round(wall_s, 1), "ms_per_webhook": round(wall_s * 1000 / count, 2),
            "ddb_requests": recorder.total("dynamodb"), "calls": dict(recorder.calls)}


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # Linux: kilobytes


if __name__ == "__main__":
    common.child_main(measure)
