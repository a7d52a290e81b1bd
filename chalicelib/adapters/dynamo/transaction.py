"""All writes of one DynamoDB transaction, what a failed write is, and the one retry loop of every
read-then-write.

Transaction uses PynamoDB's public API only: each write is the operation a model describes for
itself (Model.get_save_kwargs_from_instance, get_update_kwargs_from_instance,
get_delete_kwargs_from_instance, get_operation_kwargs_from_class), counters are ADD actions on a
Path built from a one-element list (so a dotted counter name is ONE attribute, not a document
path), and the whole goes to Connection.transact_write_items in one request.

A write that fails is one of three things (`failure`):
  Raced           the transaction lost a race: a condition failed (ConditionalCheckFailed) or
                  another transaction held an item (TransactionConflict). Read again and retry:
                  retry_on_race does, with capped full-jitter backoff.
  RetryableError  DynamoDB is busy (throttling, internal errors, a network failure): try later.
  PermanentError  anything else (ValidationError: an item too large, too many actions, ...):
                  retrying cannot help. The message names DynamoDB's codes, never the data.
DynamoDB lists a reason per action of a cancelled transaction; moto 5.2.5 does too (Code
"ConditionalCheckFailed", "None" for the others, and the Python exception name for other failures)
but raises a top-level ValidationException instead of cancelling (too large, two actions on one
item), which classifies the same way.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, TypeVar

from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.operand import Path, Value
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib.adapters.dynamo import convert, counter_keys, keys, zones
from chalicelib.adapters.dynamo.models import HubItem, IndexItem, connection
from chalicelib.domain import counters, kpis
from chalicelib.domain.errors import HubError, PermanentError, RetryableError
from chalicelib.domain.people import search_terms, stored_terms
from chalicelib.domain.person import Person

T = TypeVar("T")
ATTEMPTS = 16          # retry_on_race: attempts in all (15 waits between them)
BACKOFF_BASE_S = 0.02  # the first wait's ceiling, doubling after each lost race ...
BACKOFF_CAP_S = 0.4    # ... up to this ceiling
RACE_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
BUSY_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})
RACE_CODES = frozenset({"TransactionConflictException"})
PERMANENT_CODES = frozenset({
    "ValidationException", "ResourceNotFoundException", "AccessDeniedException", "SerializationException",
    "ItemCollectionSizeLimitExceededException", "IdempotentParameterMismatchException", "UnrecognizedClientException",
})


class Raced(RetryableError):
    """A write lost a race (a condition failed, or another transaction held an item): read again.
    Left uncaught, it is an ordinary RetryableError."""


def backoff(attempt: int) -> float:
    """The wait after lost race number attempt (0 first): full jitter, uniform in [0, ceiling], the
    ceiling doubling from BACKOFF_BASE_S up to BACKOFF_CAP_S; contending writers spread out instead
    of colliding again. The arithmetic is in retry_on_race."""
    return random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt))


def failure(error: PynamoDBException, what: str = "the relations store") -> HubError:
    """What a failed write is for its caller: Raced, RetryableError or PermanentError."""
    code = error.cause_response_code
    if code == "TransactionCanceledException":
        reasons = sorted({reason.code for reason in getattr(error, "cancellation_reasons", []) if reason is not None})
        if set(reasons) <= RACE_REASONS:  # (no reasons at all: a cancellation we cannot tell; read again)
            return Raced(f"{what} lost a race ({', '.join(reasons) or code})")
        if set(reasons) <= RACE_REASONS | BUSY_REASONS:
            return RetryableError(f"{what} is busy ({', '.join(reasons)}); try again")
        return PermanentError(f"{what} refused the write ({', '.join(sorted(set(reasons) - RACE_REASONS))})")
    if code in RACE_CODES:
        return Raced(f"{what} lost a race ({code})")
    if code == "ConditionalCheckFailedException":
        return Raced(f"{what} lost a race ({code})")
    if code in PERMANENT_CODES:
        return PermanentError(f"{what} refused the write ({code})")
    return RetryableError(f"{what} did not take the write ({code or type(error).__name__}); try again")


def conditional(write: Callable[[], Any], what: str = "the relations store") -> bool:
    """Do one conditional write (save, update, delete of one item); False when its condition failed."""
    try:
        write()
    except PynamoDBException as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise failure(error, what) from error
    return True


def retry_on_race(attempt: Callable[[], T], *, what: str = "the relations store", attempts: int = ATTEMPTS,
                  sleep: Callable[[float], None] | None = None) -> T:
    """Run attempt() (read, decide, write in a Transaction) until it does not raise Raced, backing off
    between attempts; RetryableError when every attempt lost. An attempt that must look again after
    a race (was it decided meanwhile?) catches Raced itself: it returns its answer, or raises again.

    The budget, and why concurrent writers do not exhaust it. ATTEMPTS = 16 attempts, 15 waits
    (`backoff`) whose ceilings are 0.02, 0.04, 0.08, 0.16, 0.32 s, then 0.4 s ten times: at most
    0.62 + 10 x 0.4 = 4.62 s of waiting in all, 2.31 s on average (full jitter: half the ceiling),
    plus the attempts themselves; well inside the API's 29 s, and a few seconds at worst inside a
    request. An attempt loses only to a commit made between its read and its write. Copies of one
    delivery settle at the first commit: a copy that lost reads again, finds the delivery recorded
    and answers "duplicate", so siblings alone cost at most 2 attempts. What can prolong a race is
    a burst of other writers of the same items (every intake transaction of a tenant adds to its
    counter items; DynamoDB cancels overlapping ones with TransactionConflict): n writers whose
    attempts take d seconds each need about n x d of the item's time, and the jittered waits spread
    them over the 2.3 s the budget offers on average. Simulated (tests/integration/
    test_dynamo_adapters.py, 300 bursts each), 18 writers at once (6 senders x 3 copies) at 50 ms
    or even 200 ms an attempt, or 30 writers at 50 ms, all end within budget; the former budget
    (8 attempts, ceilings 0.01 s doubling to 0.4 s: at most 1.03 s of waiting) left about one
    writer in seven of 18 at 50 ms answering 503."""
    for number in range(attempts):
        try:
            return attempt()
        except Raced:
            if number + 1 < attempts:
                (sleep or time.sleep)(backoff(number))
    raise RetryableError(f"{what} is busy; try again")


class Transaction:
    """The writes of one DynamoDB transaction (at most 100 actions, one per item), committed when the
    with block ends without an exception. Raises Raced, RetryableError or PermanentError (`failure`)."""

    def __init__(self, what: str = "the relations store") -> None:
        self._what = what
        self._checks: list[dict[str, Any]] = []
        self._deletes: list[dict[str, Any]] = []
        self._puts: list[dict[str, Any]] = []
        self._updates: list[dict[str, Any]] = []
        self._versioned: list[Model] = []

    # -- items --------------------------------------------------------------------------------

    def save(self, item: Model, condition: Condition | None = None) -> None:
        """Put the item (PynamoDB adds its version condition and increment, if it has a version)."""
        self._puts.append(item.get_save_kwargs_from_instance(condition=condition))
        self._versioned.append(item)

    def update(self, item: Model, actions: list[Action], condition: Condition | None = None) -> None:
        self._updates.append(item.get_update_kwargs_from_instance(actions=actions, condition=condition))
        self._versioned.append(item)

    def delete(self, item: Model, condition: Condition | None = None) -> None:
        self._deletes.append(item.get_delete_kwargs_from_instance(condition=condition))

    def condition_check(self, model: type[Model], key: keys.Key, condition: Condition) -> None:
        self._checks.append(model.get_operation_kwargs_from_class(*key, condition=condition))

    def save_person(self, before: Person | None, after: Person, *, updated_at: str) -> None:
        """The profile (on its version) and the search index items that changed."""
        self.save(convert.person_item(after, updated_at=updated_at))
        was = stored_terms(before) if before is not None and before.version is not None else set()  # in the form they were written
        now = search_terms(after)
        for kind, value in sorted(now - was):
            self.save(IndexItem(*keys.index_key(after.tenant, after.person_id, kind, value), person_id=after.person_id))
        for kind, value in sorted(was - now):
            self.delete(IndexItem(*keys.index_key(after.tenant, after.person_id, kind, value)))

    # -- numbers named by data ------------------------------------------------------------------

    def add(self, key: keys.Key, deltas: Mapping[str, int], condition: Condition | None = None) -> None:
        """ADD to number attributes whose names are data: "notices.sent" is one attribute."""
        if not deltas:
            return
        actions: list[Action] = [Path([name]).add(Value({"N": str(value)})) for name, value in sorted(deltas.items())]
        self._updates.append(HubItem(*key).get_update_kwargs_from_instance(actions=actions, condition=condition))

    def count(self, tenant: str, at: str, deltas: Mapping[str, int], *, person_id: str | None = None) -> None:
        """ADD counter deltas to the tenant's totals and day items, on the tenant's local days, in the
        shard of the person the change is about (counter_keys: no hot item). A key "name@<moment>|cut"
        counts on the local day of its moment (a KPI membership dated by the ending it is about); a
        plain key on the local day of `at` (the moment of the change, ISO UTC)."""
        routed = kpis.route(deltas, at, zones.zone_of(tenant))
        shard = counter_keys.shard_of(person_id) if counter_keys.SHARDS else None
        self.add((keys.counters_pk(tenant), counter_keys.total_sk(shard)), routed.total)
        for on, values in routed.days.items():
            self.add((keys.counters_pk(tenant), counter_keys.day_sk(on, shard)), values)

    def add_ledger(self, tenant: str, agency: str, deltas: Mapping[str, int], *, expected_accepted: int | None = None) -> None:
        """ADD to an agency's ledger; with expected_accepted, only if its accepted count is still that."""
        condition = None
        if expected_accepted is not None:
            accepted = Path([counters.LEDGER_ACCEPTED])
            condition = accepted == expected_accepted
            if expected_accepted == 0:
                condition = accepted.does_not_exist() | condition
        self.add(keys.ledger_key(tenant, agency), deltas, condition)

    def use_slot(self, tenant: str, agency: str, *, expected_used: int) -> None:
        """One slot used, if the ledger is as read and a slot is left."""
        used, earned = Path([counters.LEDGER_SLOTS_USED]), Path([counters.LEDGER_SLOTS_EARNED])
        as_read = used == expected_used if expected_used else used.does_not_exist() | (used == 0)
        self.add(keys.ledger_key(tenant, agency), {counters.LEDGER_SLOTS_USED: 1}, as_read & (earned > expected_used))

    # -- commit -----------------------------------------------------------------------------------

    @property
    def actions(self) -> int:
        return len(self._checks) + len(self._deletes) + len(self._puts) + len(self._updates)

    def commit(self) -> None:
        if not self.actions:
            return
        try:
            connection().transact_write_items(condition_check_items=self._checks, delete_items=self._deletes,
                                              put_items=self._puts, update_items=self._updates)
        except TransactWriteError as error:
            raise failure(error, self._what) from error
        for item in self._versioned:
            item.update_local_version_attribute()

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _trace: TracebackType | None) -> None:
        if error is None:
            self.commit()

