"""The embedded AWS endpoint of `make run` and the bench (tools/embedded_aws.py) under concurrent
writers: each transaction is atomic and isolated, as in DynamoDB. Stock moto answered this load with
500s (a whole-table copy racing a write), let a key's condition pass twice and lost counter ADDs."""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITERS, TRANSACTIONS = 6, 40


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """In a process of its own: the patches are not installed in this test process."""
    log = tmp_path_factory.mktemp("embedded-aws") / "aws.log"
    server = subprocess.Popen([sys.executable, "-m", "tools.embedded_aws", str(log)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    url = server.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), url
    yield url, log
    server.stdin.close()
    server.wait(timeout=30)


def client(url):
    return boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1", aws_access_key_id="local",
                        aws_secret_access_key="local")


def test_concurrent_transactions_are_atomic_and_isolated(endpoint):
    url, log = endpoint
    dynamodb = client(url)
    dynamodb.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    for n in range(200):  # a table with something in it: stock moto copied all of it per action
        dynamodb.put_item(TableName="t", Item={"pk": {"S": f"seed-{n}"}, "filler": {"S": "x" * 200}})

    def writer(number):
        """Each key twice: the second transaction must fail its condition and leave no trace."""
        own, committed = client(url), []
        for n in range(TRANSACTIONS):
            key = f"w{number}-{n // 2}"
            try:
                own.transact_write_items(TransactItems=[
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": key}}, "ConditionExpression": "attribute_not_exists(pk)"}},
                    {"Update": {"TableName": "t", "Key": {"pk": {"S": f"count-{number}"}}, "UpdateExpression": "ADD n :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
                committed.append(key)
            except own.exceptions.TransactionCanceledException:
                pass
        return committed

    with ThreadPoolExecutor(WRITERS) as pool:
        committed = [key for keys in pool.map(writer, range(WRITERS)) for key in keys]
    items = {item["pk"]["S"]: item for page in dynamodb.get_paginator("scan").paginate(TableName="t") for item in page["Items"]}
    assert len(committed) == len(set(committed)) == WRITERS * TRANSACTIONS // 2  # each condition held once
    assert all(key in items for key in committed)  # no commit undone by another's rollback
    assert [int(items[f"count-{n}"]["n"]["N"]) for n in range(WRITERS)] == [TRANSACTIONS // 2] * WRITERS
    text = log.read_text()
    assert '" 500 ' not in text and "Error on request" not in text
    assert text.count("POST / HTTP/1.1") >= WRITERS * TRANSACTIONS


def test_a_begins_with_query_answers_as_moto_does_pages_included_while_keys_come_and_go(endpoint):
    """The prefix query reads bisected sorted keys: same items, order and pages as a full walk, and
    a key put or deleted between two queries is seen by the second (the sorted keys are rebuilt)."""
    url, _ = endpoint
    dynamodb = client(url)
    dynamodb.create_table(TableName="names", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                                        {"AttributeName": "sk", "KeyType": "RANGE"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                {"AttributeName": "sk", "AttributeType": "S"}],
                          BillingMode="PAY_PER_REQUEST")
    names = [f"{family}{n:03}" for family in ("さとう", "さかもと", "すずき", "やまだ", "やまもと") for n in range(30)]
    for name in names:
        dynamodb.put_item(TableName="names", Item={"pk": {"S": "IX#name"}, "sk": {"S": name}})

    def query(prefix, limit=7):
        found, start = [], None
        while True:
            page = dynamodb.query(TableName="names", KeyConditionExpression="pk = :pk AND begins_with(sk, :p)",
                                  ExpressionAttributeValues={":pk": {"S": "IX#name"}, ":p": {"S": prefix}}, Limit=limit,
                                  **({"ExclusiveStartKey": start} if start else {}))
            found += [item["sk"]["S"] for item in page["Items"]]
            start = page.get("LastEvaluatedKey")
            if not start:
                return found

    assert query("さ") == sorted(n for n in names if n.startswith("さ"))
    assert query("やま", limit=100) == sorted(n for n in names if n.startswith("やま"))
    assert query("わ") == []
    dynamodb.delete_item(TableName="names", Key={"pk": {"S": "IX#name"}, "sk": {"S": "さとう000"}})
    dynamodb.put_item(TableName="names", Item={"pk": {"S": "IX#name"}, "sk": {"S": "さとう999"}})
    assert query("さとう") == sorted([n for n in names if n.startswith("さとう") and n != "さとう000"] + ["さとう999"])
