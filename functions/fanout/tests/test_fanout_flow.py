"""Publish-subscribe end to end on the laptop: HTTP -> a producer (its change + outbox event in
one transaction) -> DynamoDB stream -> event-publisher -> SNS (moto) -> filtered SQS subscribers and
the body-filtered Lambda subscriber."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest
from flow import client, log_mark, require_stack, wait_for_metric, wait_until
from patterns import needs

from tools.shared.cfn import ACCOUNT_ID, REGION

API = os.environ.get("LOCAL_API_URL", "")


@pytest.fixture(scope="module")
def aws():
    require_stack()
    return client("sqs"), client("dynamodb"), client("sns")


def post(path, body):
    request = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def scan(dynamodb, table):
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in dynamodb.scan(TableName=table)["Items"]]



# starter: with sync
def order(customer, unit_price):
    return post("/orders", {"customer_id": customer, "currency": "EUR", "items": [{"sku": "ITEM-1", "quantity": 1, "unit_price": unit_price}]})
# starter: end


@needs("sync")
def test_an_order_reaches_the_notifier_and_the_audit_log_and_only_a_large_one_the_alert(aws):
    _, dynamodb, _ = aws
    mark = log_mark()
    small = order(f"c-{uuid.uuid4().hex[:8]}", 1000)
    large = order(f"c-{uuid.uuid4().hex[:8]}", 100000)  # total 1200.00 with tax: over the 1000.00 threshold

    def order_ids(items, field="data"):
        return [json.loads(item[field]).get("id") if field == "data" else item.get("order_id") for item in items]

    def arrived():
        audit = [i for i in scan(dynamodb, os.environ["AUDIT_LOG_TABLE"]) if i["event_type"] == "order.created"]
        notes = scan(dynamodb, os.environ["NOTIFICATIONS_TABLE"])
        return ({small["id"], large["id"]} <= set(order_ids(audit))
                and sum(1 for n in notes if n.get("recipient") in (f"customer:{small['customer_id']}", f"customer:{large['customer_id']}")) == 2
                and large["id"] in [n.get("order_id") for n in notes])

    wait_until(arrived, 30, "the fan-out of both orders")
    time.sleep(1)  # give a wrongly delivered alert the time to show up
    alerts = [n for n in scan(dynamodb, os.environ["NOTIFICATIONS_TABLE"]) if n["id"].startswith("alert#")]
    assert small["id"] not in [a["order_id"] for a in alerts]
    assert [a["order_id"] for a in alerts].count(large["id"]) == 1
    audit = [i for i in scan(dynamodb, os.environ["AUDIT_LOG_TABLE"]) if i["event_type"] == "order.created"]
    assert order_ids(audit).count(small["id"]) == 1, "audited once"
    wait_for_metric(mark, "Events", "published", "event-publisher", total=2)
    wait_for_metric(mark, "Alerts", "raised", "large-order-alert")


@needs("async")
def test_a_finished_job_reaches_the_notifier_and_the_audit_log(aws):
    _, dynamodb, _ = aws
    job = post("/jobs", {"type": "report", "input": {"seconds": 0}})

    def notified():
        notes = scan(dynamodb, os.environ["NOTIFICATIONS_TABLE"])
        audit = scan(dynamodb, os.environ["AUDIT_LOG_TABLE"])
        return (any(n.get("recipient") == f"job:{job['id']}" for n in notes)
                and any(a["event_type"] == "job.succeeded" and json.loads(a["data"])["job_id"] == job["id"] for a in audit))

    wait_until(notified, 30, "the job.succeeded fan-out")


def test_an_event_the_filters_exclude_reaches_only_the_audit_log(aws):
    _, dynamodb, sns = aws
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:DomainEventsTopic"
    event = {"id": str(uuid.uuid4()), "type": "order.shipped", "version": 1, "time": "2026-11-26T10:00:00.000Z", "source": "test", "data": {"id": "o-1", "total": 999999}}
    sns.publish(TopicArn=topic, Message=json.dumps(event), MessageAttributes={"event_type": {"DataType": "String", "StringValue": "order.shipped"}})

    wait_until(lambda: any(a["event_id"] == event["id"] for a in scan(dynamodb, os.environ["AUDIT_LOG_TABLE"])), 30, "the audit record")
    time.sleep(1)
    assert not any(event["id"] in n["id"] for n in scan(dynamodb, os.environ["NOTIFICATIONS_TABLE"])), "no notification, no alert"


def test_a_message_the_notifier_cannot_read_ends_in_its_dead_letter_queue(aws):
    sqs, _, _ = aws
    poison = f"not an event {uuid.uuid4()}"
    mark = log_mark()
    sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="NotifierQueue")["QueueUrl"], MessageBody=poison)
    dead_letters = sqs.get_queue_url(QueueName="NotifierDeadLetterQueue")["QueueUrl"]

    def landed():
        messages = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        return any(m["Body"] == poison for m in messages)

    wait_until(landed, 60, "the poison message in NotifierDeadLetterQueue")
    wait_for_metric(mark, "BatchFailures", "poison", "notifier", total=5)


def test_a_known_event_that_breaks_its_contract_ends_in_the_notifier_dead_letter_queue(aws):
    """An order.created v1 without its customer, total or lines is poison for the notifier (it
    reads the event by its contract), never a notification for customer "?"; the audit log still
    records it, since it keeps every envelope as it came."""
    sqs, dynamodb, sns = aws
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:DomainEventsTopic"
    event = {"id": str(uuid.uuid4()), "type": "order.created", "version": 1, "time": "2026-11-26T10:00:00.000Z",
             "source": "test", "data": {"id": "o-broken"}}
    sns.publish(TopicArn=topic, Message=json.dumps(event),
                MessageAttributes={"event_type": {"DataType": "String", "StringValue": "order.created"}})
    dead_letters = sqs.get_queue_url(QueueName="NotifierDeadLetterQueue")["QueueUrl"]

    def landed():
        messages = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        return any(json.loads(m["Body"]).get("id") == event["id"] for m in messages if m["Body"].startswith("{"))

    wait_until(landed, 90, "the broken order.created in NotifierDeadLetterQueue")
    assert not any(event["id"] in n["id"] for n in scan(dynamodb, os.environ["NOTIFICATIONS_TABLE"])), "no notification"
    assert any(a["event_id"] == event["id"] for a in scan(dynamodb, os.environ["AUDIT_LOG_TABLE"])), "audited as it came"
