"""Event-driven choreography end to end on the laptop: HTTP -> a producer (its change and its
outbox event in one transaction) -> DynamoDB stream -> event-relay -> the EventBridge bus (moto
matches the rules) -> order-review (SQS target) and customer-activity (Lambda target, input
transformer), each as EventBridge delivers (tools/local/eventbridge.py); the archive replayed."""

from __future__ import annotations

import json
import os
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from flow import client, json_lines, log_mark, require_stack, wait_for_metric, wait_until
from patterns import needs

from tools.events import replay
from tools.shared.cfn import ACCOUNT_ID, REGION

API = os.environ.get("LOCAL_API_URL", "")
BUS = "DomainEventBus"
ARCHIVE = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:archive/DomainEventsArchive"
BUS_ARN = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/{BUS}"
STARTED = datetime.now(timezone.utc) - timedelta(seconds=5)


@pytest.fixture(scope="module")
def aws():
    require_stack()
    return client("dynamodb"), client("events"), client("sqs")


def post(path, body):
    request = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def reviews(dynamodb) -> list[dict]:
    items = dynamodb.scan(TableName=os.environ["REVIEWS_TABLE"])["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def timeline(dynamodb, customer: str) -> list[dict]:
    items = dynamodb.query(TableName=os.environ["CUSTOMER_ACTIVITY_TABLE"], KeyConditionExpression="customer_id = :c",
                           ExpressionAttributeValues={":c": {"S": customer}})["Items"]
    return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]


def messages(sqs, queue: str) -> list[dict]:
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], VisibilityTimeout=0).get("Messages", [])
    return found


ORDERS: dict[str, dict] = {}


# starter: with sync
def order(customer: str, unit_price: int) -> dict:
    return post("/orders", {"customer_id": customer, "currency": "EUR", "items": [{"sku": "DESK-1", "quantity": 1, "unit_price": unit_price}]})
# starter: end


@needs("sync")
def test_orders_reach_exactly_the_targets_whose_rules_match_their_content(aws):
    dynamodb, _, _ = aws
    mark = log_mark()
    tag = uuid.uuid4().hex[:8]
    ORDERS["small"] = order(f"c-{tag}-small", 1000)        # 12.00 with tax: activity only
    ORDERS["large"] = order(f"c-{tag}-large", 100000)      # 1200.00: the numeric range, and activity
    ORDERS["wholesale"] = order(f"b2b-{tag}", 1000)        # the prefix, and activity (not the range)

    def arrived():
        reviewed = {r["order_id"] for r in reviews(dynamodb)}
        lines = [timeline(dynamodb, o["customer_id"]) for o in ORDERS.values()]
        return {ORDERS["large"]["id"], ORDERS["wholesale"]["id"]} <= reviewed and all(len(line) == 1 for line in lines)

    wait_until(arrived, 60, "the orders on the bus, routed to review and to the timelines")
    time.sleep(1.5)  # give a wrongly routed or repeated delivery the time to show up
    reviewed = [r["order_id"] for r in reviews(dynamodb)]
    assert ORDERS["small"]["id"] not in reviewed, "1200 in minor units is under the range: no review"
    assert reviewed.count(ORDERS["large"]["id"]) == 1 and reviewed.count(ORDERS["wholesale"]["id"]) == 1
    for placed in ORDERS.values():
        (line,) = timeline(dynamodb, placed["customer_id"])
        assert line["event_type"] == "order.created", line
        assert set(line) == {"customer_id", "event_id", "event_type", "at"}, "four strings of the event, no more"
    wait_for_metric(mark, "Events", "put", "event-relay", total=3)


@needs("sync")
def test_an_archived_window_replayed_is_processed_once(aws):
    dynamodb, events, _ = aws
    if "large" not in ORDERS:
        pytest.skip("needs the orders of the routing test")
    before_reviews = sorted(r["event_id"] for r in reviews(dynamodb))
    before_lines = {o["customer_id"]: timeline(dynamodb, o["customer_id"]) for o in ORDERS.values()}
    mark = log_mark()

    name = replay.start(events, ARCHIVE, BUS_ARN, STARTED, datetime.now(timezone.utc), name=f"flow-{uuid.uuid4().hex[:8]}")
    assert replay.wait(events, name, timeout=60)["State"] == "COMPLETED"

    def seen_again():
        lines = json_lines(mark)
        reviews_again = {line["fields"].get("event_id") for line in lines
                         if line.get("fields", {}).get("message") == "review exists; repeated delivery ignored"
                         and line["fields"].get("replay") == name}
        timelines_again = [line for line in lines if line.get("fields", {}).get("message") == "customer activity"
                           and line["fields"].get("recorded") is False]
        return len(reviews_again) >= 2 and len(timelines_again) >= 3

    wait_until(seen_again, 60, "the replayed events at both consumers")
    assert sorted(r["event_id"] for r in reviews(dynamodb)) == before_reviews, "a replay makes no second review"
    for customer, lines in before_lines.items():
        assert timeline(dynamodb, customer) == lines, "nor a second line in a timeline"


def put_on_bus(events, detail: dict) -> None:
    """An event put straight on the bus, as another producer of the account would."""
    answer = events.put_events(Entries=[{"EventBusName": BUS, "Source": detail["source"], "DetailType": detail["type"],
                                         "Detail": json.dumps(detail)}])
    assert answer["FailedEntryCount"] == 0, answer


def test_poison_ends_in_the_right_targets_dead_letter_queue_and_nothing_else_is_lost(aws):
    dynamodb, events, sqs = aws
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    good = {"id": str(uuid.uuid4()), "type": "order.created", "version": 1, "time": now, "source": "another-service",
            "data": {"id": f"o-{tag}", "customer_id": f"b2b-{tag}", "currency": "EUR",
                     "items": [{"sku": "X", "quantity": 1, "unit_price": 100, "line_total": 100}],
                     "subtotal": 100, "tax_rate_basis_points": 0, "tax": 0, "total": 100, "created_at": now}}
    # A large order whose data breaks the order contract: routed to review, poison there.
    broken = {"id": str(uuid.uuid4()), "type": "order.created", "version": 1, "time": now, "source": "another-service",
              "data": {"id": f"o-{tag}-broken", "customer_id": f"c-{tag}", "total": 500000}}
    # A job event whose customer id no customer may have: the timeline refuses it, Lambda retries, then keeps it.
    unusable = {"id": str(uuid.uuid4()), "type": "job.failed", "version": 1, "time": now, "source": "another-service",
                "data": {"job_id": f"j-{tag}", "type": "report", "attempts": 1, "error": "x", "customer_id": f"c {tag}"}}
    for detail in (broken, good, unusable):
        put_on_bus(events, detail)

    def dead_lettered(queue: str, event_id: str, payload=lambda body: body["detail"]["id"]):
        return any(payload(json.loads(m["Body"])) == event_id for m in messages(sqs, queue))

    wait_until(lambda: dead_lettered("OrderReviewDeadLetterQueue", broken["id"]), 60,
               "the broken order in order-review's dead-letter queue (after 5 receives)")
    wait_until(lambda: dead_lettered("CustomerActivityFailuresQueue", unusable["id"],
                                     lambda body: body["requestPayload"]["event_id"]), 60,
               "the unusable job event in customer-activity's on-failure destination (after 3 runs)")
    reviewed = {r["event_id"] for r in reviews(dynamodb)}
    assert good["id"] in reviewed and broken["id"] not in reviewed, "the good order beside the poison is reviewed"
    assert len(timeline(dynamodb, f"b2b-{tag}")) == 1 and len(timeline(dynamodb, f"c-{tag}")) == 1
    for queue in ("OrderReviewDeliveryDeadLetterQueue", "CustomerActivityDeliveryDeadLetterQueue"):
        assert not [m for m in messages(sqs, queue) if tag in m["Body"]], f"every hand-over succeeded: nothing in {queue}"
