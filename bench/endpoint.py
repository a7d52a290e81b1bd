"""The embedded AWS endpoint for the benchmark: moto's ThreadedMotoServer on loopback, in the
benchmark's own process (the hub runs in child processes, so moto's CPU and memory are not the hub's).

Two patches, switched together by `scale_like_dynamodb(True)`, for moto 5.2.5 costs that grow with
the table where DynamoDB's do not (answers and semantics are unchanged):
- TransactWriteItems deep-copies every table it names, once per action, to roll back on failure:
  O(items stored x actions). Patched: only the items the transaction touches are copied and put back.
- Query on the table's key walks and sorts every item of the table to find one partition.
  Patched: it looks at that partition only; an index query looks only at the items of its index
  partition (found with one cheap pass instead of moto's full evaluation of every item).
Without them 10,000 webhooks or referrals into a growing table take hours. The ingest timing is also
run on moto as shipped, for comparison; each figure in results.json says which endpoint it ran on.
"""
from __future__ import annotations

import copy
import os
from typing import Any

import requests

REGION = "us-east-1"
_PATCHED = {"on": False}  # scale_like_dynamodb


def start() -> tuple[Any, str]:
    """Start the server on a free loopback port; returns it and its URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # a line per request costs the endpoint time
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    _install_patches()
    return server, f"http://{host}:{port}"


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
    requests.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()
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


def scale_like_dynamodb(on: bool) -> None:
    _PATCHED["on"] = on


def table(name: str):
    """The moto table object behind the endpoint (this process holds it)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(name)


def _install_patches() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "_bench_journal", False):
        return
    original = DynamoDBBackend.transact_write_items
    whole_copy = getattr(Table, "__deepcopy__", None)

    def transact_write_items(self, transact_items):
        if not _PATCHED["on"]:
            return original(self, transact_items)
        journal = []
        for entry in transact_items:
            op = next(iter(entry.values()))
            found = self.tables.get(op.get("TableName"))
            if found is None:
                continue
            key = op.get("Key") or op.get("Item") or {}
            hash_key = DynamoType(key[found.hash_key_attr]) if found.hash_key_attr in key else None
            range_key = DynamoType(key[found.range_key_attr]) if found.range_key_attr in key else None
            if hash_key is None:
                continue
            journal.append((found, hash_key, range_key, copy.deepcopy(found.get_item(hash_key, range_key))))
        Table.__deepcopy__ = lambda table_, _memo: table_  # the whole-table backup becomes the table itself
        try:
            return original(self, transact_items)
        except BaseException:
            for found, hash_key, range_key, before in reversed(journal):
                if before is None:
                    found.items.get(hash_key, {}).pop(range_key, None)
                else:
                    found.items[hash_key][range_key] = before
            raise
        finally:
            if whole_copy is None:
                del Table.__deepcopy__
            else:
                Table.__deepcopy__ = whole_copy

    transact_write_items._bench_journal = True
    DynamoDBBackend.transact_write_items = transact_write_items
    table_query = Table.query

    def query(self, hash_key, *args, **kwargs):
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)  # moto passes it 8th
        if not _PATCHED["on"] or hash_key is None:
            return table_query(self, hash_key, *args, **kwargs)
        if index_name:  # only the items in that index partition (moto compares every item of the table)
            attribute = next(key["AttributeName"] for key in self.get_index(index_name).schema if key["KeyType"] == "HASH")
            members = [item for partition in self.items.values() for item in partition.values()
                       if item.attrs.get(attribute) is not None and hash_key == item.attrs[attribute]]
            self.all_items = lambda: members
        else:
            self.all_items = lambda: sorted(self.items.get(hash_key, {}).values(), key=lambda item: item.range_key)
        try:
            return table_query(self, hash_key, *args, **kwargs)
        finally:
            del self.all_items

    Table.query = query


if __name__ == "__main__":  # a second endpoint in its own process: `python -m bench.endpoint`
    import sys

    _server, _url = start()
    scale_like_dynamodb(True)
    print(_url, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
    _server.stop()
