"""The DynamoDB package's own mechanics, on in-process moto: what a failed write is and how
retry_on_race treats it, the Transaction's ADDs of counters named by data, the key map, and that
the stores are exactly the ports (same methods, same signatures, domain values only)."""
from __future__ import annotations

import heapq
import inspect
import random
import re
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pynamodb.connection import Connection
from pynamodb.exceptions import CancellationReason, PutError, TransactWriteError, VerboseClientError

from chalicelib.adapters.dynamo import keys, transaction
from chalicelib.adapters.dynamo.models import TimelineItem
from chalicelib.adapters.dynamo.reads import raw_item
from chalicelib.adapters.dynamo.transaction import Raced, Transaction, failure, retry_on_race
from chalicelib.domain import kpis, ports
from chalicelib.domain.errors import PermanentError, RetryableError
from chalicelib.domain.events import ApplicationEvent, PersonRef
from tests.integration import test_dynamo_stores as flows

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def cancelled(*codes: str | None) -> TransactWriteError:
    """A TransactWriteError as PynamoDB raises it for a cancelled transaction with these reasons."""
    cause = VerboseClientError({"Error": {"Code": "TransactionCanceledException", "Message": "secret data"}},
                               "TransactWriteItems", cancellation_reasons=[CancellationReason(code=c) if c else None for c in codes])
    return TransactWriteError("Failed to write transaction items", cause)


def refused(code: str) -> TransactWriteError:
    return TransactWriteError("Failed to write transaction items",
                              VerboseClientError({"Error": {"Code": code, "Message": "secret data"}}, "TransactWriteItems"))


class Script:
    """Connection.transact_write_items that fails with the scripted errors first, then writes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *errors: Exception) -> None:
        self.errors, self.calls = list(errors), 0
        self.slept: list[float] = []
        real = Connection.transact_write_items

        def transact(connection: Connection, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.errors:
                raise self.errors.pop(0)
            return real(connection, *args, **kwargs)
        monkeypatch.setattr(Connection, "transact_write_items", transact)
        monkeypatch.setattr(transaction.time, "sleep", self.slept.append)


def event(vid: str = "c1") -> ApplicationEvent:
    return ApplicationEvent(tenant="acme", person=PersonRef(source="greenhouse", vendor_person_id=vid, email=f"{vid}@example.com"),
                            occurred_at=T0, application_id="a1")


def relations():
    from chalicelib.adapters.dynamo import DynamoRelations
    return DynamoRelations(clock=lambda: T0 + timedelta(hours=1))


# -- what a failed write is ---------------------------------------------------------------------------

@pytest.mark.parametrize("error, kind", [
    (cancelled("ConditionalCheckFailed", None), Raced),
    (cancelled(None, "TransactionConflict"), Raced),
    (refused("TransactionConflictException"), Raced),
    (cancelled("ConditionalCheckFailed", "ValidationError"), PermanentError),
    (cancelled("ItemCollectionSizeLimitExceeded"), PermanentError),
    (refused("ValidationException"), PermanentError),
    (cancelled("ThrottlingError", None), RetryableError),
    (refused("ProvisionedThroughputExceededException"), RetryableError),
    (refused("InternalServerError"), RetryableError),
    (TransactWriteError("Failed to write transaction items", ConnectionError("reset")), RetryableError),
])
def test_a_failed_write_is_a_race_a_refusal_or_a_busy_store(error, kind):
    found = failure(error)
    assert type(found) is kind
    assert "secret data" not in found.message
    if kind is PermanentError:
        assert re.search(r"\((ValidationError|ItemCollectionSizeLimitExceeded|ValidationException)\)", found.message)


def test_moto_reports_a_failed_condition_as_a_race_and_a_malformed_transaction_as_permanent(aws):
    TimelineItem("a", "b", entry={}).save()
    with pytest.raises(Raced, match="ConditionalCheckFailed"), Transaction() as tx:
        tx.save(TimelineItem("a", "c", entry={}))
        tx.save(TimelineItem("a", "b", entry={}), condition=TimelineItem.pk.does_not_exist())
    with pytest.raises(PermanentError, match="ValidationException"), Transaction() as tx:  # two actions on one item
        tx.save(TimelineItem("a", "x", entry={}))
        tx.delete(TimelineItem("a", "x"))
    with pytest.raises(PermanentError), Transaction() as tx:  # an item over 400 KB
        tx.save(TimelineItem("a", "big", entry={"text": "x" * 500_000}))
    assert raw_item(("a", "c")) == {} and raw_item(("a", "x")) == {}  # nothing of a cancelled transaction stays


# -- retry_on_race ----------------------------------------------------------------------------------------

def ceiling(n: int) -> float:
    return min(transaction.BACKOFF_CAP_S, transaction.BACKOFF_BASE_S * 2 ** n)


def burst(writers: int, attempt_s: float, rng: random.Random) -> int:
    """Writers of one item start within 50 ms of each other and race as retry_on_race's callers do:
    an attempt reads, takes attempt_s, and loses if another writer committed since its read; a loser
    waits backoff(n) and reads again. Returns how many writers lost every one of their ATTEMPTS."""
    pending = [(start + attempt_s, start, 0) for start in (rng.uniform(0, 0.05) for _ in range(writers))]
    heapq.heapify(pending)
    commits: list[float] = []
    exhausted = 0
    while pending:
        at, read_at, number = heapq.heappop(pending)
        if not any(read_at < commit <= at for commit in commits):
            commits.append(at)
        elif number + 1 == transaction.ATTEMPTS:
            exhausted += 1
        else:
            wait = transaction.backoff(number)
            heapq.heappush(pending, (at + wait + attempt_s, at + wait, number + 1))
    return exhausted


@pytest.mark.parametrize("writers, attempt_s", [(18, 0.05), (18, 0.2), (30, 0.05)])
def test_a_burst_of_concurrent_writers_of_one_item_never_exhausts_the_retries(monkeypatch, writers, attempt_s):
    """6 senders x 3 copies of one delivery (or 30 writers of one tenant's counters) at once, on a
    store slowed to 50-200 ms a transaction: every writer commits within its ATTEMPTS."""
    rng = random.Random(16)
    monkeypatch.setattr(transaction, "random", rng)
    assert sum(burst(writers, attempt_s, rng) for _ in range(300)) == 0


def test_the_retries_wait_a_few_seconds_at_most_in_all():
    waits = [ceiling(n) for n in range(transaction.ATTEMPTS - 1)]
    assert 4 <= sum(waits) <= 5  # 4.62 s at worst (2.31 s on average): a request's time stays bounded
    assert all(0 <= transaction.backoff(n) <= ceiling(n) for n in range(transaction.ATTEMPTS) for _ in range(50))


def test_a_conflict_is_retried_after_a_short_jittered_wait_and_then_succeeds(aws, monkeypatch):
    script = Script(monkeypatch, cancelled(None, "TransactionConflict"), refused("TransactionConflictException"))
    recorded = relations().record_once(event(), delivery_id="d1")
    assert recorded is not None and script.calls == 3
    assert len(script.slept) == 2 and all(0 <= wait <= ceiling(n) for n, wait in enumerate(script.slept))


def test_a_validation_failure_surfaces_at_once_as_permanent(aws, monkeypatch):
    script = Script(monkeypatch, cancelled(None, "ValidationError"))
    with pytest.raises(PermanentError, match="ValidationError"):
        relations().record_once(event(), delivery_id="d1")
    assert script.calls == 1 and script.slept == []


def test_throttling_surfaces_as_retryable_without_spinning(aws, monkeypatch):
    script = Script(monkeypatch, refused("ProvisionedThroughputExceededException"))
    with pytest.raises(RetryableError) as raised:
        relations().record_once(event(), delivery_id="d1")
    assert not isinstance(raised.value, Raced) and script.calls == 1


def test_every_race_lost_ends_in_a_retryable_error(aws, monkeypatch):
    store = relations()
    person_id = store.record_once(event(), delivery_id="d1").person_id
    script = Script(monkeypatch, *[cancelled("ConditionalCheckFailed")] * transaction.ATTEMPTS)
    with pytest.raises(RetryableError, match="busy") as raised:
        store.opt_out("acme", person_id, at=T0 + timedelta(hours=2))  # it used to give up silently
    assert not isinstance(raised.value, Raced)
    assert script.calls == transaction.ATTEMPTS and len(script.slept) == transaction.ATTEMPTS - 1
    assert all(0 <= wait <= ceiling(n) for n, wait in enumerate(script.slept))
    assert not store.profile("acme", person_id).person.consents  # nothing was written


def test_an_attempt_that_reads_again_after_a_race_can_answer_instead_of_retrying(aws, monkeypatch):
    waits: list[float] = []
    outcomes = iter([Raced("lost"), Raced("lost"), "decided meanwhile"])

    def attempt() -> str:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    assert retry_on_race(attempt, sleep=waits.append) == "decided meanwhile" and len(waits) == 2


def test_a_single_conditional_write_outside_transactions_is_classified_too(aws, monkeypatch):
    def put(*args: object, **kwargs: object) -> None:
        raise PutError("Failed to put item", VerboseClientError({"Error": {"Code": "ValidationException"}}, "PutItem"))
    monkeypatch.setattr(Connection, "put_item", put)
    with pytest.raises(PermanentError):
        relations().mark_delivery("acme", "lever", "d1")


# -- counters named by data ---------------------------------------------------------------------------------

def test_counter_names_with_dots_are_single_attributes_added_on_the_total_and_their_day(aws):
    from chalicelib.adapters.dynamo import DynamoCounters, counter_keys
    deltas = {"notices.sent": 2, "events.rejected.source.greenhouse": 1, "kpi.rejected@2026-10-01|source=greenhouse": 1}
    for _ in range(2):
        with Transaction() as tx:
            tx.count("acme", "2026-11-02", deltas, person_id="p_1")
    shard = counter_keys.shard_of("p_1")
    total = raw_item((keys.counters_pk("acme"), counter_keys.total_sk(shard)))
    assert total["notices.sent"] == {"N": "4"} and total["events.rejected.source.greenhouse"] == {"N": "2"}
    assert total["kpi.rejected|source=greenhouse"] == {"N": "2"} and "notices" not in total  # not a nested map
    assert raw_item((keys.counters_pk("acme"), counter_keys.day_sk("2026-11-02", shard)))["notices.sent"] == {"N": "4"}
    assert raw_item((keys.counters_pk("acme"), counter_keys.day_sk("2026-10-01", shard)))["kpi.rejected|source=greenhouse"] == {"N": "2"}
    days = DynamoCounters().days("acme", "2026-10-01", "2026-11-02")
    assert set(days) == {"2026-10-01", "2026-11-02"} and DynamoCounters().totals("acme")["notices.sent"] == 4


def test_counters_are_spread_over_shards_by_person_and_summed_with_the_items_written_before_shards(aws):
    """No hot item: people's changes land on different shards; readers sum every shard and the
    unsharded TOTAL and DAY# items that tables deployed before shards hold."""
    from chalicelib.adapters.dynamo import DynamoCounters, counter_keys
    people = [f"p_{n}" for n in range(200)]
    assert len({counter_keys.shard_of(p) for p in people}) == counter_keys.SHARDS
    for person in people:
        with Transaction() as tx:
            tx.count("acme", "2026-11-02T03:00:00Z", {"people": 1}, person_id=person)
    with Transaction() as tx:  # written before shards: the single items
        tx.add((keys.counters_pk("acme"), "TOTAL"), {"people": 5})
        tx.add((keys.counters_pk("acme"), "DAY#2026-11-02"), {"people": 5})
        tx.add((keys.counters_pk("acme"), "DAY#2026-11-03"), {"people": 1})
    with Transaction() as tx:  # a change about no one: any shard
        tx.count("acme", "2026-11-02T03:00:00Z", {"people": 1})
    counters = DynamoCounters()
    assert counters.totals("acme")["people"] == 206
    assert counters.days("acme", "2026-11-02", "2026-11-03") == {"2026-11-02": {"people": 206}, "2026-11-03": {"people": 1}}
    assert counters.days("acme", "2026-11-03", "2026-11-03") == {"2026-11-03": {"people": 1}}
    assert counter_keys.day_of(counter_keys.day_sk("2026-11-02", 7)) == "2026-11-02" == counter_keys.day_of("DAY#2026-11-02")


def test_a_ledger_add_holds_only_on_the_accepted_count_read(aws):
    with Transaction() as tx:
        tx.add_ledger("acme", "alpha", {"referrals_accepted": 1, "slots.odd.name": 1}, expected_accepted=0)
    with pytest.raises(Raced), Transaction() as tx:
        tx.add_ledger("acme", "alpha", {"referrals_accepted": 1}, expected_accepted=0)  # another run moved it
    with Transaction() as tx:
        tx.add_ledger("acme", "alpha", {"referrals_accepted": 1}, expected_accepted=1)
    assert raw_item(keys.ledger_key("acme", "alpha"))["referrals_accepted"] == {"N": "2"}
    with pytest.raises(Raced), Transaction() as tx:  # no slot earned: none to use
        tx.use_slot("acme", "alpha", expected_used=0)


# -- the key map ------------------------------------------------------------------------------------------

def test_keys_read_back_what_they_were_built_from():
    assert keys.person_id_of(keys.person_pk("acme", "p_1")) == "p_1"
    assert keys.person_id_of(keys.provision_pk("acme", "p_1")) == "p_1"
    sk = keys.outbox_sk("2026-11-02T09:00:00.000000Z", "acme", "p_1", keys.notice_sk("app:greenhouse:a1"))
    assert keys.outbox_entry(sk) == ("2026-11-02T09:00:00.000000Z", "acme", "p_1", keys.notice_sk("app:greenhouse:a1"))
    assert keys.nurture_due_entry(keys.nurture_due_sk("2026-11-02T09:00:00.000000Z", "win-back", "p_1")) == (
        "2026-11-02T09:00:00.000000Z", "win-back", "p_1")
    assert keys.batch_id_of(keys.batch_key("acme", "alpha", "b_1")[1]) == "b_1"
    assert keys.source_of(keys.source_sk("greenhouse")) == "greenhouse"
    assert keys.day_of_counters(keys.counters_day_sk("2026-11-02")) == "2026-11-02"
    assert keys.day_of_snapshot(keys.snapshot_sk("2026-11-02")) == "2026-11-02"
    assert keys.token_digest_of_ref(keys.token_ref_sk("abc")) == "abc"
    token = keys.token_key("acme.s3cret")
    assert token == keys.token_key_of("acme", keys.token_digest(token)) and "s3cret" not in token[0]
    assert [keys.token_key(t) for t in ("nodot", ".x", "acme.", "a." + "x" * 200)] == [None] * 4
    assert keys.index_key("acme", "p_1", "name", "suzuki") == (keys.index_pk("acme", "name", "s"), "suzuki#p_1")
    assert len(keys.identity_key("acme", "lever", "x" * 500)[0]) < 300  # long vendor ids are digested
    routed = kpis.route({"people": 1, "kpi.ended@2026-10-01|source=lever": 1}, "2026-11-02")
    assert routed.total == {"people": 1, "kpi.ended|source=lever": 1}
    assert routed.days == {"2026-11-02": {"people": 1}, "2026-10-01": {"kpi.ended|source=lever": 1}}
    with pytest.raises(ValueError):
        keys.document_sk("template", ("rejection",))  # a template is named by kind and locale


def test_stored_keys_are_the_formats_deployed_tables_hold():
    """Pinned literally: a change here breaks every table already deployed."""
    assert keys.person_pk("acme", "p_1") == "T#acme#P#p_1" and keys.profile_key("acme", "p_1")[1] == "PROFILE"
    assert keys.identity_key("acme", "lever", "L-9") == ("T#acme#ID#lever#L-9", "ID")
    assert keys.delivery_key("acme", "lever", "n-1:0") == ("T#acme#DL#lever#n-1:0", "DL")
    assert keys.index_key("acme", "p_1", "tag", "python") == ("T#acme#IX#tag#python", "p_1")
    assert keys.referral_key("acme", "p_1", "alpha") == ("T#acme#P#p_1", "REF#alpha")
    assert keys.nurture_key("acme", "p_1", "winback") == ("T#acme#P#p_1", "NURT#winback")
    assert (keys.counters_pk("acme"), keys.counters_day_sk("2026-11-02")) == ("T#acme#CTR", "DAY#2026-11-02")
    assert (keys.kpi_pk("acme"), keys.snapshot_sk("2026-11-02")) == ("T#acme#KPI", "SNAP#2026-11-02")
    from chalicelib.adapters.dynamo import counter_keys
    assert (counter_keys.total_sk(3), counter_keys.day_sk("2026-11-02", 31)) == ("TOTAL#S03", "DAY#2026-11-02#S31")
    assert (counter_keys.total_sk(None), counter_keys.day_sk("2026-11-02", None)) == ("TOTAL", "DAY#2026-11-02")
    assert keys.tenant_key("acme") == ("TENANTS", "acme") and keys.conf_pk("acme") == "T#acme#CONF"
    assert (keys.source_sk("lever"), keys.cursor_sk("lever")) == ("SOURCE#lever", "CURSOR#lever")
    assert [keys.document_sk(kind, name) for kind, name in (
        ("settings", ()), ("template", ("rejection", "ja")), ("agency", ("alpha",)), ("segment", ("eng",)),
        ("campaign", ("winback",)), ("consent_text", ("ja-1",)))] == [
        "SETTINGS", "TEMPLATE#rejection#ja", "AGENCY#alpha", "SEGMENT#eng", "CAMPAIGN#winback", "CONSENT_TEXT#ja-1"]
    assert keys.ledger_key("acme", "alpha") == ("T#acme#AGY#alpha", "LEDGER")
    assert keys.state_key("acme", "alpha")[1] == "STATE" and keys.batch_key("acme", "alpha", "b_1")[1] == "BATCH#b_1"
    assert keys.slot_earned_sk("2026", 10) == "LE#2026#earn10" and keys.slot_used_sk("2026", 1) == "LE#2026#use1"
    assert keys.provision_pk("acme", "p_1") == "T#acme#PROV#p_1" and keys.provision_sk("t", "alpha", "b_1") == "t#alpha#b_1"
    assert (keys.queued_pk("acme", "alpha"), keys.withdrawals_pk("acme", "alpha")) == ("REFQ#acme#alpha", "WDQ#acme#alpha")
    assert (keys.open_batches_pk("acme", "alpha"), keys.nurture_due_pk("acme"), keys.OUTBOX) == (
        "OPENB#acme#alpha", "NURT#acme", "OUTBOX")
    assert (keys.audit_pk("acme"), keys.admin_token_key("acme", "t1"), keys.once_pk("acme")) == (
        "T#acme#AUDIT", ("T#acme#ADMTOK", "t1"), "T#acme#ONCE")
    assert keys.suppression_key("acme", "a@b.jp")[0].startswith("T#acme#SUP#") and keys.timeline_sk("t", "x") == "TL#t#x"
    assert keys.notice_sk("employment").startswith("NOTICE#") and keys.tombstone_key("acme", "a@b.jp")[1] == "TOMB"


KEY_SPELLING = re.compile(r"""T#\{|["']T#|#P#|["'](REFQ|OPENB|WDQ|NURT|SNAP|DAY|CURSOR|SOURCE|TEMPLATE|AGENCY|SEGMENT|"""
                          r"""CAMPAIGN|CONSENT_TEXT|TL|REF|LE|BATCH|NOTICE|TOKREF|TOMB)#|#(AGY|KPI|PROV|CTR|CONF|ADMTOK|AUDIT|ONCE)\b""")


def test_no_key_is_spelled_outside_keys_py():
    places = [*(ROOT / "chalicelib" / "adapters").rglob("*.py"), *(ROOT / "chalicelib" / "domain").glob("*.py"),
              *(ROOT / "tools").glob("*.py"), *(ROOT / "bench").glob("*.py")]
    dynamo = ROOT / "chalicelib" / "adapters" / "dynamo"  # the key map: keys.py, and keys_*.py beside it once it is full
    exempt = {dynamo / "keys.py", dynamo / "index_keys.py", *dynamo.glob("keys_*.py"), dynamo / "counter_keys.py"}
    spelled = {str(p.relative_to(ROOT)): m.group(0) for p in places if p not in exempt
               and (m := KEY_SPELLING.search(p.read_text()))}
    assert spelled == {}


def test_the_package_uses_no_private_pynamodb_attribute():
    for path in (ROOT / "chalicelib" / "adapters" / "dynamo").glob("*.py"):
        text = path.read_text()
        assert not re.search(r"\._(update_items|put_items|delete_items|condition_check_items|connection)\b", text), path
        if path.name != "models.py":  # the one override: every model shares HubItem's connection (next test)
            assert "_get_connection" not in text, path


def test_every_model_shares_one_connection_and_one_loaded_service_model(aws):
    """PynamoDB makes a connection, and a botocore session that loads the DynamoDB service model,
    per model class; the hub's models share one (peak memory of a warm container: make bench)."""
    from chalicelib.adapters.dynamo import models

    shared = {id(model._get_connection()) for model in models.MODELS}
    assert len(shared) == 1
    assert models.connection() is models.HubItem._get_connection().connection


# -- the stores are the ports --------------------------------------------------------------------------------

def pairs():
    from chalicelib.adapters import dynamo
    return [(dynamo.DynamoRelations, ports.Relations), (dynamo.DynamoNotices, ports.Notices),
            (dynamo.DynamoTenants, ports.Tenants), (dynamo.DynamoCounters, ports.Counters),
            (dynamo.DynamoConfig, ports.Config), (dynamo.DynamoTokens, ports.Tokens),
            (dynamo.DynamoSuppressions, ports.Suppressions), (dynamo.DynamoAudit, ports.Audit),
            (dynamo.DynamoAdminTokens, ports.AdminTokens), (dynamo.DynamoReferrals, ports.Referrals),
            (dynamo.DynamoNurture, ports.NurtureSchedules), (dynamo.DynamoSenderDomains, ports.SenderDomains)]


def public(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls, inspect.isfunction) if not name.startswith("_")}


@pytest.mark.parametrize("store, port", pairs(), ids=lambda c: c.__name__)
def test_a_store_has_exactly_its_ports_methods_with_the_same_signatures(store, port):
    assert public(store) == public(port)
    for name in public(port):
        ours, theirs = inspect.signature(getattr(store, name)), inspect.signature(getattr(port, name))
        assert [(p.name, p.kind, p.default) for p in ours.parameters.values()] == \
               [(p.name, p.kind, p.default) for p in theirs.parameters.values()], name
        assert typing.get_type_hints(getattr(store, name)) == typing.get_type_hints(getattr(port, name)), name
    clock = inspect.signature(store).parameters["clock"]
    assert clock.kind is inspect.Parameter.KEYWORD_ONLY and clock.default().tzinfo is not None


def test_no_public_store_method_returns_a_pynamodb_item(aws):
    """Every flow of test_dynamo_stores.py, each on an empty table, covers every method of every port."""
    import boto3

    dynamodb = boto3.client("dynamodb")
    flows.CALLED.clear()
    for flow in flows.FLOWS:
        for item in dynamodb.scan(TableName="relations-hub-test")["Items"]:
            dynamodb.delete_item(TableName="relations-hub-test", Key={"pk": item["pk"], "sk": item["sk"]})
        flow(flows.make_stores())
    missed = {(store.__name__, name) for store, port in pairs() for name in public(port)} - flows.CALLED
    assert missed == set()
