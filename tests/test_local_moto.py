"""The local AWS keeps DynamoDB's transaction semantics with tools/shared/moto_server.py's changes in place:
a transaction writes all of its items or none, a cancelled one leaves no stream record, and
writes beside a cancelled transaction are not lost. These run against the stack's moto server."""

from __future__ import annotations

import os
import threading
import uuid

import pytest

from tests.flow import client


@pytest.fixture(scope="module")
def table():
    if not os.environ.get("AWS_ENDPOINT_URL"):
        pytest.fail("AWS_ENDPOINT_URL is not set: these tests need the local stack; run them with `make test`")
    dynamodb = client("dynamodb")
    name = f"moto-check-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    yield name
    dynamodb.delete_table(TableName=name)


def item(pk: str, sk: str = "a", **attributes: str) -> dict:
    return {"pk": {"S": pk}, "sk": {"S": sk}, **{name: {"S": value} for name, value in attributes.items()}}


def stream_records(table: str) -> list[dict]:
    streams = client("dynamodbstreams")
    arn = client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    return streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]


def test_a_cancelled_transaction_writes_nothing_and_leaves_no_stream_record(table):
    dynamodb = client("dynamodb")
    dynamodb.put_item(TableName=table, Item=item("kept", state="before"))
    records_before = len(stream_records(table))

    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": {"S": "kept"}, "sk": {"S": "a"}},
                        "UpdateExpression": "SET #s = :after", "ExpressionAttributeNames": {"#s": "state"},
                        "ExpressionAttributeValues": {":after": {"S": "after"}}}},
            {"Put": {"TableName": table, "Item": item("new-in-cancelled")}},
            {"Put": {"TableName": table, "Item": item("absent"), "ConditionExpression": "attribute_exists(pk)"}},
        ])

    kept = dynamodb.get_item(TableName=table, Key={"pk": {"S": "kept"}, "sk": {"S": "a"}})["Item"]
    assert kept["state"] == {"S": "before"}
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"pk": {"S": "new-in-cancelled"}, "sk": {"S": "a"}})
    assert len(stream_records(table)) == records_before


def test_a_committed_transaction_writes_every_item_and_its_stream_records(table):
    dynamodb = client("dynamodb")
    records_before = len(stream_records(table))
    dynamodb.transact_write_items(TransactItems=[
        {"Put": {"TableName": table, "Item": item("committed", "1")}},
        {"Put": {"TableName": table, "Item": item("committed", "2"), "ConditionExpression": "attribute_not_exists(pk)"}},
    ])
    stored = dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk",
                            ExpressionAttributeValues={":pk": {"S": "committed"}})["Items"]
    assert sorted(entry["sk"]["S"] for entry in stored) == ["1", "2"]
    assert len(stream_records(table)) == records_before + 2


def test_writes_beside_cancelled_transactions_are_not_lost(table):
    """Unpatched moto restores a whole-table copy on cancel, dropping what others wrote meanwhile,
    and answers some of these requests with a 500. The filler makes each whole-table copy slow
    enough (tens of ms) for the writers to meet inside it."""
    writers, per_writer = 4, 25
    dynamodb = client("dynamodb")
    for start in range(0, 500, 25):
        dynamodb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": item("filler", str(n), payload="x" * 200)}} for n in range(start, start + 25)
        ]})

    def write(writer: int) -> None:
        dynamodb = client("dynamodb")
        for n in range(per_writer):
            dynamodb.put_item(TableName=table, Item=item("concurrent", f"{writer}-{n}"))
            try:
                dynamodb.transact_write_items(TransactItems=[
                    {"Put": {"TableName": table, "Item": item("cancelled", f"{writer}-{n}")}},
                    {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "never"}, "sk": {"S": "a"}},
                                        "ConditionExpression": "attribute_exists(pk)"}},
                ])
            except dynamodb.exceptions.TransactionCanceledException:
                pass

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    def count(pk: str) -> int:
        return dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", Select="COUNT",
                              ExpressionAttributeValues={":pk": {"S": pk}})["Count"]

    assert count("concurrent") == writers * per_writer
    assert count("cancelled") == 0
