"""The embedded AWS endpoint: moto's ThreadedMotoServer on loopback, patched to behave like DynamoDB
under load. One module for both users: `make run` (tools/local_hub.py) and the benchmark
(bench/endpoint.py).

moto 5.2.5 as shipped has costs that grow with the table where DynamoDB's do not, and its DynamoDB
backend is not safe to call from several threads at once (the server answers each request in a
thread of its own). `install()` patches both; answers and semantics are DynamoDB's:
- One lock around every DynamoDB request (`LOCK`): a transaction is atomic and isolated, as in
  DynamoDB. Without it, a transaction that fails its conditions while another commits puts back
  the snapshot it took before, and so erases the other's writes (a storm of concurrent deliveries
  lost people, facts and notices), and reads see half-applied transactions.
- TransactWriteItems deep-copies every table it names, once per action, to roll back on failure:
  O(items stored x actions). Patched (`scale_like_dynamodb(True)`): only the items the transaction
  touches are copied and put back.
- Query on the table's key walks and sorts every item of the table to find one partition.
  Patched (`scale_like_dynamodb(True)`): it looks at that partition only; for a `begins_with`
  key condition, only at the items whose sort key has the prefix, found by bisecting the
  partition's sorted keys (kept until a key comes or goes): a name search reads a 25-item page of
  the one partition that holds every person's name forms, 500,000 items at 100,000 people. An
  index query looks only at the items of its index partition (found with one cheap pass instead
  of moto's full evaluation of every item).
Without the last two, 10,000 webhooks or referrals into a growing table take hours. The benchmark
switches them off to time ingest on moto as shipped too; `make run` keeps them on.

The server's access log (a line per AWS call) goes to a file, or nowhere: never to the terminal,
where it would bury everything else.
"""
from __future__ import annotations

import copy
import logging
import threading
from pathlib import Path
from typing import Any

REGION = "us-east-1"
LOCK = threading.RLock()    # every DynamoDB request, one at a time (moto's backend is not thread-safe)
_STATE = {"scale": False}   # scale_like_dynamodb


def start(*, port: int = 0, access_log: Path | None = None, scale: bool = True) -> tuple[Any, str]:
    """Start the server on 127.0.0.1:port (0: a free port), patched; returns it and its URL.
    access_log: the file that receives a line per request (None: no access log at all)."""
    from moto.server import ThreadedMotoServer

    _route_access_log(access_log)
    install()
    scale_like_dynamodb(scale)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    host, bound = server.get_host_and_port()
    return server, f"http://{host}:{bound}"


def scale_like_dynamodb(on: bool) -> None:
    """Switch the two cost patches on or off (the lock stays: it is correctness, not speed)."""
    _STATE["scale"] = on


def table(name: str) -> Any:
    """The moto table object behind the endpoint (the process that started it holds it)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].get_table(name)


def _route_access_log(path: Path | None) -> None:
    """werkzeug logs each request to its 'werkzeug' logger, adding a terminal handler of its own
    unless one is there already: give it a file (or a level that says nothing)."""
    import werkzeug.serving

    log = logging.getLogger("werkzeug")
    log.propagate = False
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()
    if path is None:
        log.setLevel(logging.ERROR)
        log.addHandler(logging.NullHandler())
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w", encoding="utf-8")  # this run's: the endpoint starts empty
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    werkzeug.serving._log_add_style = False  # plain text in a file, not terminal colours


def install() -> None:
    """Patch moto's DynamoDB (idempotent): the lock always, the cost patches behind the switch."""
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoDBBackend.transact_write_items, "_embedded", False):
        return
    _lock_every_request(DynamoHandler)
    _journal_transactions(DynamoDBBackend)
    _query_one_partition()


def _lock_every_request(handler_class: Any) -> None:
    call_action = handler_class.call_action

    def locked(self: Any) -> Any:
        with LOCK:
            return call_action(self)

    handler_class.call_action = locked


def _journal_transactions(backend_class: Any) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    original = backend_class.transact_write_items
    whole_copy = Table.__dict__.get("__deepcopy__")

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> Any:
        if not _STATE["scale"]:
            with LOCK:
                return original(self, transact_items)
        with LOCK:  # the class-level switch below must not be seen by another thread's transaction
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
                    _put_back(found, hash_key, range_key, before)
                raise
            finally:
                if whole_copy is None:
                    del Table.__deepcopy__
                else:
                    Table.__deepcopy__ = whole_copy

    transact_write_items._embedded = True  # type: ignore[attr-defined]
    backend_class.transact_write_items = transact_write_items


def _put_back(found: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    """An item as it was before a cancelled transaction (None: it did not exist). moto keeps a
    table's items by hash key, then, when the table has a range key, by range key."""
    if range_key is None:
        if before is None:
            found.items.pop(hash_key, None)
        else:
            found.items[hash_key] = before
    elif before is None:
        found.items.get(hash_key, {}).pop(range_key, None)
    else:
        found.items.setdefault(hash_key, {})[range_key] = before


def _query_one_partition() -> None:
    from moto.dynamodb.models.table import Table

    table_query = Table.query

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)  # moto passes it 8th
        if not _STATE["scale"] or hash_key is None:
            return table_query(self, hash_key, *args, **kwargs)
        with LOCK:  # all_items is swapped on the table object for the length of this query
            if index_name:  # only the items in that index partition (moto compares every item of the table)
                attribute = next(key["AttributeName"] for key in self.get_index(index_name).schema
                                 if key["KeyType"] == "HASH")
                members = [item for partition in self.items.values() for item in partition.values()
                           if item.attrs.get(attribute) is not None and hash_key == item.attrs[attribute]]
                self.all_items = lambda: members
            else:
                prefix = _begins_with(kwargs.get("range_comparison", args[0] if args else None),
                                      kwargs.get("range_objs", args[1] if len(args) > 1 else None))
                found = self.items.get(hash_key)
                if prefix is not None and isinstance(found, dict):  # moto re-checks the condition: same answer
                    if type(found) is dict:
                        found = self.items[hash_key] = _Partition(found)
                    candidates = found.prefixed(prefix)
                else:
                    candidates = list((found or {}).values()) if isinstance(found, dict) else []
                self.all_items = lambda: sorted(candidates, key=lambda item: item.range_key)
            try:
                return table_query(self, hash_key, *args, **kwargs)
            finally:
                del self.all_items

    Table.query = query


class _Partition(dict):
    """One partition's items by sort key (moto's own dict, replaced on its first prefix query), with
    a version that moves whenever a sort key comes or goes: the sorted list of its string sort keys
    that a `begins_with` query bisects is rebuilt only after such a change, as DynamoDB's sorted
    partition needs no walk."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0
        self._sorted: tuple[int, list[str], list[Any]] | None = None

    def __setitem__(self, key: Any, value: Any) -> None:
        if key not in self:
            self.version += 1
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self.version += 1
        super().__delitem__(key)

    def pop(self, *args: Any) -> Any:
        self.version += 1
        return super().pop(*args)

    def popitem(self) -> Any:
        self.version += 1
        return super().popitem()

    def clear(self) -> None:
        self.version += 1
        super().clear()

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if key not in self:
            self.version += 1
        return super().setdefault(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        self.version += 1
        super().update(*args, **kwargs)

    def prefixed(self, prefix: str) -> list[Any]:
        """The items whose string sort key starts with prefix, in key order."""
        import bisect

        if self._sorted is None or self._sorted[0] != self.version:
            ordered = sorted((key for key in self if getattr(key, "type", None) == "S"), key=lambda key: key.value)
            self._sorted = (self.version, [key.value for key in ordered], ordered)
        _, values, ordered = self._sorted
        start = end = bisect.bisect_left(values, prefix)
        while end < len(values) and values[end].startswith(prefix):
            end += 1
        return [self[key] for key in ordered[start:end]]


def _begins_with(comparison: Any, operands: Any) -> str | None:
    """The prefix of a `begins_with(sort key, :string)` key condition, or None."""
    if str(comparison).upper() != "BEGINS_WITH" or not operands or getattr(operands[0], "type", None) != "S":
        return None
    return str(operands[0].value)


if __name__ == "__main__":  # the endpoint alone, in its own process: `python -m tools.embedded_aws`
    import sys

    _server, _url = start(access_log=Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    print(_url, flush=True)
    sys.stdin.read()  # serve until the parent closes our stdin
    _server.stop()
