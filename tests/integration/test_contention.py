"""The bench's contention model (bench/contention.py): transactions hold their items, and writes that
meet a held item fail as DynamoDB fails them; other writes go on; the items are free afterwards; reads
go on too.
A gate stands in for the service time, so nothing here depends on timing."""
from __future__ import annotations

import threading

import boto3
import pytest
from botocore.exceptions import ClientError

from bench import contention


@pytest.fixture(scope="module")
def dynamodb():
    from tools import embedded_aws

    server, url = embedded_aws.start(access_log=None, scale=True)
    client = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="local",
                          aws_secret_access_key="local")
    client.create_table(TableName="c", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                  {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}],
                        BillingMode="PAY_PER_REQUEST")
    yield client
    contention.contend(False)
    embedded_aws.scale_like_dynamodb(False)
    server.stop()


def key(name):
    return {"pk": {"S": "T#acme#CTR"}, "sk": {"S": name}}


def add(name, n=1):
    return {"Update": {"TableName": "c", "Key": key(name), "UpdateExpression": "ADD n :n",
                       "ExpressionAttributeValues": {":n": {"N": str(n)}}}}


def value(dynamodb, name):
    return int(dynamodb.get_item(TableName="c", Key=key(name), ConsistentRead=True).get("Item", {}).get("n", {"N": "0"})["N"])


@pytest.fixture
def holding(dynamodb):
    """A transaction on TOTAL and DAY#1 holding its items (in a thread) until the test lets go."""
    gate = threading.Event()
    contention.contend(True, gate=gate)
    answers = []
    holder = threading.Thread(target=lambda: answers.append(
        dynamodb.transact_write_items(TransactItems=[add("TOTAL"), add("DAY#1")])))
    holder.start()
    while contention.stats()["transactions"] < 1:  # taken: its items are held
        threading.Event().wait(0.005)
    yield gate
    gate.set()
    holder.join()
    assert answers, "the holding transaction failed"
    contention.contend(False)


def test_a_transaction_touching_a_held_item_is_cancelled_with_transaction_conflict(dynamodb, holding):
    before = value(dynamodb, "TOTAL")  # the holder's ADD is applied already: it holds its items afterwards
    with pytest.raises(ClientError) as raised:
        dynamodb.transact_write_items(TransactItems=[add("OTHER"), add("TOTAL")])
    error = raised.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in error["CancellationReasons"]] == ["None", "TransactionConflict"]
    assert value(dynamodb, "OTHER") == 0 and value(dynamodb, "TOTAL") == before  # nothing of it applied
    assert contention.stats()["transaction_conflicts"] == 1


def test_a_plain_write_of_a_held_item_fails_with_transaction_conflict_exception(dynamodb, holding):
    for write in (lambda: dynamodb.put_item(TableName="c", Item={**key("DAY#1"), "n": {"N": "5"}}),
                  lambda: dynamodb.update_item(TableName="c", Key=key("TOTAL"), UpdateExpression="ADD n :n",
                                               ExpressionAttributeValues={":n": {"N": "1"}}),
                  lambda: dynamodb.delete_item(TableName="c", Key=key("TOTAL"))):
        with pytest.raises(ClientError) as raised:
            write()
        assert raised.value.response["Error"]["Code"] == "TransactionConflictException"
    assert contention.stats()["write_conflicts"] == 3


def test_writes_of_other_items_go_on_while_items_are_held(dynamodb, holding):
    dynamodb.put_item(TableName="c", Item={**key("SHARD#1"), "n": {"N": "1"}})
    dynamodb.transact_write_items(TransactItems=[add("SHARD#2"), add("SHARD#3")])
    assert value(dynamodb, "SHARD#1") == 1 and value(dynamodb, "SHARD#3") == 1
    assert contention.stats()["transaction_conflicts"] == 0


def test_reads_go_on_while_items_are_held(dynamodb, holding):
    assert value(dynamodb, "TOTAL") >= 1
    assert contention.stats()["transaction_conflicts"] == contention.stats()["write_conflicts"] == 0


def test_held_items_are_free_again_after_the_service_time(dynamodb):
    contention.contend(True, service_ms=(1, 2))
    before = value(dynamodb, "TOTAL")
    for _ in range(5):  # one after another: each finds the items let go by the one before
        dynamodb.transact_write_items(TransactItems=[add("TOTAL"), add("DAY#1")])
        dynamodb.update_item(TableName="c", Key=key("TOTAL"), UpdateExpression="ADD n :n",
                             ExpressionAttributeValues={":n": {"N": "1"}})
    assert value(dynamodb, "TOTAL") == before + 10
    assert contention.stats() == {"transactions": 5, "transaction_conflicts": 0, "write_conflicts": 0}
    contention.contend(False)


def test_switched_on_each_answer_says_what_it_cost_the_endpoint(dynamodb):
    from bench.counting import CPU_HEADER, HELD_HEADER

    seen = []
    hook = ("after-call.dynamodb.*", lambda http_response, model, **_: seen.append((model.name, http_response.headers)))
    dynamodb.meta.events.register(*hook)
    try:
        contention.contend(True, service_ms=(5, 5))
        dynamodb.transact_write_items(TransactItems=[add("TOTAL")])
        value(dynamodb, "TOTAL")
        contention.contend(False)
        value(dynamodb, "TOTAL")
    finally:
        dynamodb.meta.events.unregister(*hook)
    (_, transaction), (_, read), (_, off) = seen
    assert int(transaction[HELD_HEADER]) == 5000 and int(read[HELD_HEADER]) == 0  # a transaction's hold, in µs
    assert int(transaction[CPU_HEADER]) > 0 and int(read[CPU_HEADER]) > 0        # the server thread's CPU time
    assert CPU_HEADER not in off and HELD_HEADER not in off                       # off: answers as before


def test_switched_off_the_endpoint_lets_overlapping_transactions_through(dynamodb):
    contention.contend(False)
    dynamodb.transact_write_items(TransactItems=[add("TOTAL")])
    assert contention.stats()["transactions"] == 0
