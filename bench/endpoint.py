"""The embedded AWS endpoint for the benchmark: moto's ThreadedMotoServer on loopback, in the
benchmark's own process (the hub runs in child processes, so moto's CPU and memory are not the hub's).

The server and its patches are tools/embedded_aws.py, the very endpoint `make run` uses: a lock that
makes each DynamoDB request atomic, and two patches, switched together by `scale_like_dynamodb(True)`,
for moto 5.2.5 costs that grow with the table where DynamoDB's do not (a whole-table deep copy per
transaction action; a whole-table walk per partition or index query). Without them 10,000 webhooks
or referrals into a growing table take hours. The ingest timing is also run on moto as shipped
(switched off), for comparison; each figure in results.json says which endpoint it ran on.
"""
from __future__ import annotations

import os
from typing import Any

import requests

from bench import common
from tools import embedded_aws

REGION = embedded_aws.REGION


def start() -> tuple[Any, str]:
    """Start the server on a free loopback port, without an access log (a line per request costs the
    endpoint time) and with the cost patches off until `scale_like_dynamodb(True)`; returns it and its URL."""
    return embedded_aws.start(access_log=None, scale=False)


def client_env(url: str) -> dict[str, str]:
    """What a hub process needs to reach the endpoint (fake credentials; nothing leaves the machine)."""
    return {"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench", "HUB_STAGE": "bench", "HUB_TABLE": "relations-hub-bench",
            "HUB_ADMIN_TOKEN": "bench-admin-token", "HUB_PUBLIC_URL": "http://127.0.0.1:8000",
            "HUB_AGENCY_PARALLELISM": "1", "POWERTOOLS_SERVICE_NAME": "relations-hub",
            "HUB_EGRESS_ALLOW_LOOPBACK": "1",  # the bench's agency runs on loopback (never honoured in Lambda)
            "POWERTOOLS_METRICS_NAMESPACE": "RelationsHub"}


def reset(url: str, env: dict[str, str]) -> dict[str, str]:
    """Empty every backend and provision the hub's table and queues afresh; the queue environment."""
    requests.post(f"{url}/moto-api/reset", timeout=common.limit_s(30)).raise_for_status()
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        from tools.local_aws import provision
        return provision()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


scale_like_dynamodb = embedded_aws.scale_like_dynamodb
table = embedded_aws.table


if __name__ == "__main__":  # a second endpoint in its own process: `python -m bench.endpoint`
    import sys

    _server, _url = start()
    scale_like_dynamodb(True)
    print(_url, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
    _server.stop()
