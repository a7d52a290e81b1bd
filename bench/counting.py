"""Counting the AWS requests a process makes, with botocore's own event hooks.

Every botocore client built after `install()` (boto3's and PynamoDB's, which builds its own from a
botocore session per thread) gets two hooks: `before-parameter-build` sees each API call with its
parameters, `after-call` sees its parsed answer. Counting is per API call (what AWS bills), not per
HTTP attempt.

DynamoDB units: moto's ConsumedCapacity is a constant placeholder (and empty for transactions), so
units are computed from item sizes by DynamoDB's published rules: a write is 1 WRU per started KB
(2 in a transaction, for every action, ConditionCheck included); a strongly consistent read is
1 RRU per started 4 KB (0.5 eventually consistent, queries summed before rounding); writing an
item that carries (or loses) the gsi1 key adds one index write of its size. Update sizes are the
item's size after the update, read back afterwards by `settle_update_sizes` outside the count.

Time in AWS calls is also kept per thread (`thread_times()`, for senders that share a process): the
wall time inside the calls, the thread's CPU time inside them (botocore's own work), and what the
contention endpoint says each call cost it (bench/contention.py's headers, when it is on).
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter as Tally
from decimal import Decimal
from typing import Any

INDEX_KEY = "gsi1pk"
CPU_HEADER, HELD_HEADER = "x-bench-endpoint-cpu-us", "x-bench-held-us"  # bench/contention.py puts them on


class Recorder:
    def __init__(self) -> None:
        self.enabled = False
        self.detail = False           # also keep DynamoDB parameters and answers, for units
        self.calls: Tally = Tally()   # "service.Operation" -> count
        self.reads = 0.0              # RRU
        self.writes = 0.0             # WRU, Update actions counted once their size is known
        self.pending_updates: list[tuple[dict, int, bool]] = []  # (key, per-KB factor, touches index)
        self._consistent = True
        self._keys = 0
        self.aws_s = 0.0              # time spent inside AWS calls (always kept: two clock reads a call)
        self._thread = threading.local()  # the calling thread's clocks and sums (thread_times)

    # -- the hooks -------------------------------------------------------------------------------

    def _before(self, params: dict, model: Any, **_: Any) -> None:
        if not self.enabled:
            return
        service = model.service_model.service_name
        self.calls[f"{service}.{model.name}"] += 1
        if self.detail and service == "dynamodb":
            self._consistent = bool(params.get("ConsistentRead")) or any(
                isinstance(request, dict) and request.get("ConsistentRead")
                for request in params.get("RequestItems", {}).values())
            self._keys = sum(len(request.get("Keys", ())) for request in params.get("RequestItems", {}).values()
                             if isinstance(request, dict))
            self._write_units(model.name, params)

    def _call(self, **_: Any) -> None:
        self._thread.started = (time.perf_counter(), time.thread_time())

    def _after(self, parsed: dict, model: Any, http_response: Any = None, **_: Any) -> None:
        wall_started, cpu_started = getattr(self._thread, "started", (time.perf_counter(), time.thread_time()))
        elapsed = time.perf_counter() - wall_started
        self.aws_s += elapsed
        mine = self.thread_times()
        headers = getattr(http_response, "headers", None) or {}
        for name, value in (("aws_s", elapsed), ("aws_cpu_s", time.thread_time() - cpu_started),
                            ("endpoint_cpu_s", int(headers.get(CPU_HEADER, 0)) / 1e6),
                            ("held_s", int(headers.get(HELD_HEADER, 0)) / 1e6), ("calls", 1)):
            mine[name] += value
        if self.enabled and self.detail and model.service_model.service_name == "dynamodb":
            self._read_units(model.name, parsed, self._consistent)

    # -- units -----------------------------------------------------------------------------------

    def _write_units(self, operation: str, params: dict) -> None:
        if operation == "PutItem":
            self._put(params["Item"], 1)
        elif operation == "UpdateItem":
            self._update(params, 1)
        elif operation == "DeleteItem":
            self.writes += 1
        elif operation == "BatchWriteItem":
            for requests in params["RequestItems"].values():
                for request in requests:
                    if "PutRequest" in request:
                        self._put(request["PutRequest"]["Item"], 1)
                    else:
                        self.writes += 1
        elif operation == "TransactWriteItems":
            for action in params["TransactItems"]:
                kind, body = next(iter(action.items()))
                if kind == "Put":
                    self._put(body["Item"], 2)
                elif kind == "Update":
                    self._update(body, 2)
                else:  # Delete, ConditionCheck: one transactional unit for a small item
                    self.writes += 2

    def _put(self, item: dict, factor: int) -> None:
        kb = math.ceil(item_size(item) / 1024) or 1
        self.writes += factor * kb + (kb if INDEX_KEY in item else 0)

    def _update(self, body: dict, factor: int) -> None:
        touches_index = INDEX_KEY in " ".join(body.get("ExpressionAttributeNames", {}).values()) or \
            INDEX_KEY in body.get("UpdateExpression", "")
        self.pending_updates.append((body["Key"], factor, touches_index))

    def _read_units(self, operation: str, parsed: dict, consistent: bool) -> None:
        per = 1.0 if consistent else 0.5
        if operation == "GetItem":
            self.reads += per * max(1, math.ceil(item_size(parsed.get("Item", {})) / 4096))
        elif operation == "BatchGetItem":  # a key not found still costs the minimum read
            items = [i for found in parsed.get("Responses", {}).values() for i in found]
            missing = max(0, self._keys - len(items))
            self.reads += per * (missing + sum(max(1, math.ceil(item_size(i) / 4096)) for i in items))
        elif operation in ("Query", "Scan"):
            total = sum(item_size(i) for i in parsed.get("Items", []))
            self.reads += per * max(1, math.ceil(total / 4096))

    def settle_update_sizes(self, get_item) -> None:
        """Count the pending Update actions at the size their items have now (get_item(key) -> item)."""
        for key, factor, touches_index in self.pending_updates:
            kb = math.ceil(item_size(get_item(key) or key) / 1024) or 1
            self.writes += factor * kb + (kb if touches_index else 0)
        self.pending_updates.clear()

    # -- reading the tally -----------------------------------------------------------------------

    def total(self, service: str, operations: tuple[str, ...] | None = None) -> int:
        return sum(n for name, n in self.calls.items() if name.startswith(service + ".") and
                   (operations is None or name.split(".", 1)[1] in operations))

    def thread_times(self) -> dict[str, float]:
        """The calling thread's running sums: aws_s (wall time in AWS calls), aws_cpu_s (its CPU time
        in them), endpoint_cpu_s and held_s (the contention endpoint's own cost), calls."""
        if not hasattr(self._thread, "times"):
            self._thread.times = dict.fromkeys(("aws_s", "aws_cpu_s", "endpoint_cpu_s", "held_s", "calls"), 0.0)
        return self._thread.times

    def reset(self) -> None:
        self.calls.clear()
        self.reads = self.writes = 0.0
        self.pending_updates.clear()


READ_OPERATIONS = ("GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems")
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")

RECORDER = Recorder()


def install(recorder: Recorder = RECORDER) -> Recorder:
    """Hook every botocore client created from now on (call before the hub builds its clients)."""
    import botocore.session

    if getattr(botocore.session.Session.create_client, "_bench_hooked", False):
        return recorder
    create_client = botocore.session.Session.create_client

    def hooked(self, *args: Any, **kwargs: Any):
        return hook(create_client(self, *args, **kwargs), recorder)

    hooked._bench_hooked = True
    botocore.session.Session.create_client = hooked
    return recorder


_EVENTS = (("before-parameter-build.*.*", "_before"), ("before-call.*.*", "_call"), ("after-call.*.*", "_after"))


def hook(client: Any, recorder: Recorder) -> Any:
    """Count one botocore client's calls on recorder (install() does this for every new client; a
    test hooks the client the hub already holds, and unhooks it afterwards)."""
    for event, handler in _EVENTS:
        client.meta.events.register(event, getattr(recorder, handler))
    return client


def unhook(client: Any, recorder: Recorder) -> None:
    for event, handler in _EVENTS:
        client.meta.events.unregister(event, getattr(recorder, handler))


def item_size(item: dict) -> int:
    """An item's size by DynamoDB's rules (attribute names plus values), in bytes."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict) -> int:
    kind, data = next(iter(value.items()))
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        digits = Decimal(data).normalize().as_tuple().digits
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: element}) for element in data)
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(element) for name, element in data.items())
    return 0
