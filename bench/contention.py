"""The embedded endpoint made to contend like DynamoDB (a patch on tools/embedded_aws.py's moto server).

moto applies one request at a time (embedded_aws.LOCK): a transaction never meets another, so
nothing shows what DynamoDB does to a burst of transactions that touch one item. With
`contend(True)`:
- A TransactWriteItems is applied as moto applies it (under the global lock, conditions evaluated
  then) and from that moment holds every item it names (Put, Update, Delete and ConditionCheck
  alike) for a service time drawn from SERVICE_MS (uniform, 8 to 25 ms: a small transaction's two
  phases in one region), then lets go and answers. The service time passes OUTSIDE the global
  lock: other requests go on meanwhile, as in DynamoDB; and the time a request waited for the
  endpoint's CPU is not part of the hold.
- A TransactWriteItems that names an item another one holds is cancelled at once, as DynamoDB
  cancels it: TransactionCanceledException, CancellationReasons Code "TransactionConflict" for the
  held items and "None" for the others; nothing of it is applied.
- A PutItem, UpdateItem or DeleteItem of a held item fails with TransactionConflictException.
- Reads and BatchWriteItem are not modelled (reads see the last committed state, as a
  serializable read does; the hub writes nothing hot with BatchWriteItem).

`stats()` counts the transactions taken, those cancelled by a conflict and the plain writes refused,
for the burst step to report.

On, every answer of the endpoint (any service) also carries what the request cost the endpoint
itself, for the burst's acknowledgement model (bench/burst.py): `x-bench-endpoint-cpu-us`, the CPU
time of the server thread that answered it (time.thread_time: waiting for the lock, for the GIL or
for a core is not in it) and `x-bench-held-us`, the service time a transaction held its items.
Off (the default), the endpoint answers exactly as before."""
from __future__ import annotations

import json
import random
import re
import threading
import time
from collections import Counter
from typing import Any

from bench.counting import CPU_HEADER, HELD_HEADER

SERVICE_MS = (8.0, 25.0)   # a transaction holds its items this long: uniform in [low, high] ms
_STATE: dict[str, Any] = {"on": False, "service_ms": SERVICE_MS, "random": random.Random(22), "gate": None}
_HELD: dict[tuple[str, str, str], int] = {}   # (table, hash key, range key) -> the holding transaction
_GUARD = threading.Lock()                      # _HELD and the tallies only: never held for a service time
_TALLY = {"transactions": 0, "transaction_conflicts": 0, "write_conflicts": 0}
_NEXT = iter(range(1, 1 << 62))
_HOT: Counter[str] = Counter()                 # conflicting items by kind (their keys with digits and ids cut)
PLAIN_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
_REQUEST = threading.local()                   # the server thread's request: the service time it held items


def contend(on: bool, *, service_ms: tuple[float, float] = SERVICE_MS, gate: threading.Event | None = None) -> None:
    """Switch the model on or off (installing the patch the first time); the tallies start again.
    gate (tests): the next transaction taken holds its items until the event is set, instead of a
    service time (the transactions after it have service times again)."""
    install()
    with _GUARD:
        _STATE.update(on=on, service_ms=service_ms, gate=gate)
        _HELD.clear()
        _HOT.clear()
        for name in _TALLY:
            _TALLY[name] = 0


def stats() -> dict[str, int]:
    with _GUARD:
        return dict(_TALLY)


def hot_items() -> dict[str, int]:
    """The items transactions conflicted on, by kind (their keys with numbers and ids cut), most first."""
    with _GUARD:
        return dict(_HOT.most_common(10))


def _kind(key: tuple[str, str, str]) -> str:
    """An item's key with its variable parts cut (numbers, ids and hashes), for a report without data."""
    _table, hash_value, range_value = key
    text = f"{json.loads(hash_value) if hash_value != 'null' else ''} {json.loads(range_value) if range_value else ''}"
    return re.sub(r"[0-9a-f]{12,}|\d+", "<n>", text)[:80]


def install() -> None:
    """Wrap the DynamoDB handler's call_action (outside embedded_aws's lock, idempotent)."""
    from moto.dynamodb.responses import DynamoHandler

    from tools import embedded_aws

    embedded_aws.install()
    if getattr(DynamoHandler.call_action, "_contention", False):
        return
    _time_every_answer()
    locked = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        if not _STATE["on"]:
            return locked(self)
        operation = str(self.headers.get("X-Amz-Target", "")).rsplit(".", 1)[-1]
        if operation == "TransactWriteItems":
            return _transaction(self, locked)
        if operation in PLAIN_WRITES:
            request = json.loads(self.body or "{}")
            key = _key(request["TableName"], request.get("Key") or request.get("Item") or {})
            with _GUARD:
                held = key in _HELD
                if held:
                    _TALLY["write_conflicts"] += 1
            if held:
                return _error(self, _conflict())
        return locked(self)

    call_action._contention = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = call_action


def _transaction(handler: Any, locked: Any) -> Any:
    """Taken and applied at one moment (under the global lock), then holding its items for its
    service time (outside it) before it answers: the hold is the service time, never the time the
    request waited for the endpoint."""
    from tools import embedded_aws

    request = json.loads(handler.body or "{}")
    named = []
    for entry in request.get("TransactItems", []):
        body = next(iter(entry.values()))
        named.append(_key(body.get("TableName", ""), body.get("Key") or body.get("Item") or {}))
    with embedded_aws.LOCK:
        with _GUARD:
            conflicts = [key in _HELD for key in named]
            if any(conflicts):
                _TALLY["transaction_conflicts"] += 1
                for key, held in zip(named, conflicts, strict=True):
                    if held:
                        _HOT[_kind(key)] += 1
                return _error(handler, _cancelled(conflicts))
            owner = next(_NEXT)
            for key in named:
                _HELD[key] = owner
            _TALLY["transactions"] += 1
            low, high = _STATE["service_ms"]
            service_s = _STATE["random"].uniform(low, high) / 1000
            gate, _STATE["gate"] = _STATE["gate"], None  # the next transaction taken waits for it, no other
        try:
            answer = locked(handler)  # applied as moto applies it, conditions evaluated now
        except BaseException:
            _release(named, owner)
            raise
    try:
        if gate is not None:
            gate.wait()
        else:
            time.sleep(service_s)  # the items are held; the global lock is not
            _REQUEST.held_s = getattr(_REQUEST, "held_s", 0.0) + service_s
    finally:
        _release(named, owner)
    return answer


def _time_every_answer() -> None:
    """Put the endpoint's own cost of each request on its answer (CPU_HEADER, HELD_HEADER), while on."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    dispatch = DomainDispatcherApplication.__call__

    def timed(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
        if not _STATE["on"]:
            return dispatch(self, environ, start_response)
        started, _REQUEST.held_s = time.thread_time(), 0.0

        def answer(status: str, headers: list[tuple[str, str]], *args: Any) -> Any:
            cpu_us = round((time.thread_time() - started) * 1e6)  # the answer is complete when its headers go
            return start_response(status, [*headers, (CPU_HEADER, str(cpu_us)),
                                           (HELD_HEADER, str(round(_REQUEST.held_s * 1e6)))], *args)

        return dispatch(self, environ, answer)

    DomainDispatcherApplication.__call__ = timed  # type: ignore[method-assign]


def _release(named: list[tuple[str, str, str]], owner: int) -> None:
    with _GUARD:
        for key in named:
            if _HELD.get(key) == owner:
                del _HELD[key]


def _key(table_name: str, item: dict[str, Any]) -> tuple[str, str, str]:
    """The item's identity: its table and its key attributes' values (as DynamoDB JSON text)."""
    from tools import embedded_aws

    try:
        found = embedded_aws.table(table_name)
    except Exception:  # noqa: BLE001 - an unknown table: moto answers it as it would
        return (table_name, json.dumps(item, sort_keys=True), "")
    hash_value = json.dumps(item.get(found.hash_key_attr), sort_keys=True)
    range_value = json.dumps(item.get(found.range_key_attr), sort_keys=True) if found.range_key_attr else ""
    return (table_name, hash_value, range_value)


def _cancelled(conflicts: list[bool]) -> Any:
    from moto.dynamodb.exceptions import TransactionCanceledException

    return TransactionCanceledException(
        [("TransactionConflict", "Transaction is ongoing for the item", None) if held else (None, None, None)
         for held in conflicts])


def _conflict() -> Any:
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    return DynamodbException(ERROR_TYPE_PREFIX + "TransactionConflictException",
                             "Transaction is ongoing for the item")


def _error(handler: Any, error: Any) -> Any:
    """The answer moto gives when a handler method raises this error (a 400 in DynamoDB's JSON)."""
    headers = {**dict(error.get_headers() or []), "status": error.code}
    status, headers, body = handler._transform_response(handler.response_headers, (error.description, headers))
    return (status, *handler._enrich_response(headers, body))
