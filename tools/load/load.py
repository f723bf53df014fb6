"""`make load`: the async, fan-out and events patterns under load, with faults, checked for loss and duplicates.

Runs inside a local stack started with fault injection on (the Makefile sets it):
LOCAL_FAULT_TRANSIENT_RATE makes a share of SQS records fail their first delivery in every SQS
consumer, and LOCAL_POLLER_DROP_EVERY makes the local poller drop every Nth batch's invocation
as if the function died mid-batch (the batch comes back after the visibility timeout).

1. ORDERS orders over HTTP (some large enough for the large-order alert and the review rule):
   their order.created events fan out through the outbox, the stream, SNS and the subscribers,
   and through event-relay onto the EventBridge bus to order-review and customer-activity.
2. JOBS invoice jobs over HTTP (POST /jobs, through the API handler), and meanwhile 1 % poison
   messages straight onto the jobs queue and a few poison events onto the topic.
3. Wait until everything drained, then count what the user would count:
   - every job SUCCEEDED, none RUNNING, QUEUED or FAILED;
   - side effects, not statuses: exactly one job.succeeded event per job in the audit log and
     one job notification per job in the notifier's table; exactly one audit record and one
     notification per order, one alert per large order and none for the others; one review per
     large order and none for the others, one timeline line per order;
   - every poison message in the dead-letter queue of the queue it was sent to, and nothing else
     in any dead-letter queue.
Prints throughput and the lost / duplicated / stuck counts, and exits non-zero unless all are 0.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3

from tools.shared.cfn import REGION, ROOT, Template

API = os.environ.get("LOCAL_API_URL", "")
JOBS = int(os.environ.get("LOAD_JOBS", "10000"))
ORDERS = int(os.environ.get("LOAD_ORDERS", "40"))
POISON_JOBS = max(1, JOBS // 100)
POISON_EVENTS = 5
# The attribute the poison events carry: each subscriber whose filter lets it through must end
# with all of them in its DLQ, the others with none (delivers()).
POISON_EVENT_TYPE = "order.created"
SUBMITTERS = int(os.environ.get("LOAD_SUBMITTERS", "4"))
DRAIN_TIMEOUT = float(os.environ.get("LOAD_DRAIN_TIMEOUT", "3600"))
LARGE_ORDER_MINOR_UNITS = 250_000  # over the alert's total >= 100000 filter


def client(service: str):
    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


def post(path: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(API + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"content-type": "application/json"})
    for attempt in range(5):
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            if error.code == 503 and attempt < 4:  # Retry-After: the API asked for it
                time.sleep(1)
                continue
            return error.code, json.loads(error.read() or b"{}")
    raise AssertionError("unreachable")


def say(message: str) -> None:
    print(f"[load] {message}", flush=True)


def queue_names(template: Template) -> dict[str, tuple[str, str]]:
    """Each SQS-triggered function's queue and that queue's dead-letter queue, from the template."""
    names = {}
    for mapping in template.sqs_mappings():
        redrive = template.resolve(template.resources[mapping.queue]["Properties"]["RedrivePolicy"])
        names[mapping.binary] = (mapping.queue, redrive["deadLetterTargetArn"].rsplit(":", 1)[-1])
    return names


def delivers(template: Template, queue: str, attributes: dict[str, str]) -> bool:
    """Whether the topic's subscription of `queue` delivers a message with these attributes and a
    body that is not JSON (what the poison events are), by the subscription's filter policy.
    Only exact-string attribute filters are read; anything else stops the run rather than guess."""
    for subscription in template.of_type("AWS::SNS::Subscription").values():
        properties = subscription["Properties"]
        if properties.get("Endpoint") != {"Fn::GetAtt": [queue, "Arn"]}:
            continue
        policy = properties.get("FilterPolicy")
        if policy is None:
            return True
        if properties.get("FilterPolicyScope", "MessageAttributes") == "MessageBody":
            return False  # a body filter never matches a body that is not JSON
        for key, allowed in policy.items():
            if not (isinstance(allowed, list) and all(isinstance(value, str) for value in allowed)):
                raise SystemExit(f"load.py reads only exact-string filters; extend delivers() for {queue}'s {key}")
            if attributes.get(key) not in allowed:
                return False
        return True
    return False  # no subscription: a queue the EventBridge bus feeds, which the topic never reaches


def queue_depth(sqs, name: str) -> int:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def drain_bodies(sqs, name: str) -> list[str]:
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    bodies = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=300).get("Messages", [])
        if not messages:
            return bodies
        bodies.extend(m["Body"] for m in messages)


def scan(dynamodb, table: str) -> list[dict]:
    items, start = [], None
    while True:
        page = dynamodb.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        items.extend({k: next(iter(v.values())) for k, v in item.items()} for item in page["Items"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def main() -> int:
    if not API:
        say("LOCAL_API_URL is not set: run this through `make load`")
        return 2
    template = Template.read()
    sqs, sns, dynamodb = client("sqs"), client("sns"), client("dynamodb")
    queues = queue_names(template)
    jobs_queue, jobs_dlq = queues["job-worker"]
    topic = os.environ["DOMAIN_EVENTS_TOPIC_ARN"]
    say(f"{JOBS} jobs, {POISON_JOBS} poison job messages, {ORDERS} orders, {POISON_EVENTS} poison events; "
        f"faults: LOCAL_FAULT_TRANSIENT_RATE={os.environ.get('LOCAL_FAULT_TRANSIENT_RATE', 'off')}, "
        f"LOCAL_POLLER_DROP_EVERY={os.environ.get('LOCAL_POLLER_DROP_EVERY', 'off')}")

    started = time.monotonic()
    # 1. Orders, every fourth one large.
    orders: dict[str, bool] = {}
    for index in range(ORDERS):
        large = index % 4 == 0
        unit_price = LARGE_ORDER_MINOR_UNITS if large else 1250
        status, order = post("/orders", {"customer_id": f"load-{index}", "currency": "EUR", "items": [{"sku": "LOAD-1", "quantity": 1, "unit_price": unit_price}]})
        assert status == 201, (status, order)
        orders[order["id"]] = large
    order_ids = list(orders)

    # 2. Jobs through the API, poison straight onto the queue and the topic while they run.
    poison_bodies = []
    for index in range(POISON_JOBS):
        kind = index % 3
        poison_bodies.append(["this is not JSON", json.dumps({"type": "invoice"}),
                              json.dumps({"job_id": str(uuid.uuid4()), "type": "invoice"})][kind])
    jobs_url = sqs.get_queue_url(QueueName=jobs_queue)["QueueUrl"]

    step = JOBS // POISON_JOBS

    def submit(index: int) -> str:
        if index % step == 0 and index // step < POISON_JOBS:
            sqs.send_message(QueueUrl=jobs_url, MessageBody=poison_bodies[index // step])
        status, job = post("/jobs", {"type": "invoice", "input": {"order_id": order_ids[index % len(order_ids)]}})
        assert status == 202, (status, job)
        return job["id"]

    submit_started = time.monotonic()
    with ThreadPoolExecutor(SUBMITTERS) as pool:
        job_ids = []
        for count, job_id in enumerate(pool.map(submit, range(JOBS)), start=1):
            job_ids.append(job_id)
            if count % 1000 == 0:
                say(f"  {count} jobs submitted ({count / (time.monotonic() - submit_started):.0f}/s)")
    submit_seconds = time.monotonic() - submit_started
    poison_events = [f"poison event {i}: not an envelope" for i in range(POISON_EVENTS)]
    for body in poison_events:
        sns.publish(TopicArn=topic, Message=body, MessageAttributes={"event_type": {"DataType": "String", "StringValue": POISON_EVENT_TYPE}})
    say(f"submitted {JOBS} jobs in {submit_seconds:.0f} s ({JOBS / submit_seconds:.0f} jobs/s)")

    # 3. Drain: every queue empty, the poison in the DLQ, every job finished.
    deadline = time.monotonic() + DRAIN_TIMEOUT
    expected_audit = ORDERS + JOBS
    # Drained but short of what was expected, and nothing moving for a minute: count what there is.
    last_progress, stalled_since = None, time.monotonic()
    while True:
        depths = {name: queue_depth(sqs, queue) for name, (queue, _) in queues.items()}
        dead = queue_depth(sqs, jobs_dlq)
        audited = dynamodb.describe_table(TableName=os.environ["AUDIT_LOG_TABLE"])["Table"].get("ItemCount", 0)
        say(f"  queues {depths}, jobs DLQ {dead}, audit records ~{audited}")
        progress = (tuple(depths.values()), dead, audited)
        if progress != last_progress:
            last_progress, stalled_since = progress, time.monotonic()
        elif not any(depths.values()) and time.monotonic() - stalled_since > 60:
            say("everything drained but short of the expected counts; checking what there is")
            break
        if not any(depths.values()) and dead >= POISON_JOBS:
            statuses = Counter(item["status"] for item in scan(dynamodb, os.environ["JOBS_TABLE"]))
            audit = scan(dynamodb, os.environ["AUDIT_LOG_TABLE"])
            if statuses.get("SUCCEEDED", 0) + statuses.get("FAILED", 0) >= JOBS and len(audit) >= expected_audit:
                break
        if time.monotonic() > deadline:
            say("drain timed out; checking what there is")
            statuses = Counter(item["status"] for item in scan(dynamodb, os.environ["JOBS_TABLE"]))
            audit = scan(dynamodb, os.environ["AUDIT_LOG_TABLE"])
            break
        time.sleep(5)
    total_seconds = time.monotonic() - started
    time.sleep(3)  # let a late duplicate, if any, land before counting

    # 4. Count.
    audit = scan(dynamodb, os.environ["AUDIT_LOG_TABLE"])
    notifications = scan(dynamodb, os.environ["NOTIFICATIONS_TABLE"])
    jobs = {item["id"]: item for item in scan(dynamodb, os.environ["JOBS_TABLE"])}
    succeeded_events = Counter(json.loads(row["data"]).get("job_id") for row in audit if row["event_type"] == "job.succeeded")
    order_events = Counter(json.loads(row["data"]).get("id") for row in audit if row["event_type"] == "order.created")
    job_notes = Counter(row["recipient"].removeprefix("job:") for row in notifications if row["id"].startswith("notification#") and row["recipient"].startswith("job:"))
    order_notes = Counter(row["recipient"].removeprefix("customer:") for row in notifications if row["id"].startswith("notification#") and row["recipient"].startswith("customer:"))
    alerts = Counter(row["order_id"] for row in notifications if row["id"].startswith("alert#"))
    customers = {f"load-{i}" for i in range(ORDERS)}
    reviews = Counter(row["order_id"] for row in scan(dynamodb, os.environ["REVIEWS_TABLE"]))
    timelines = Counter(row["customer_id"] for row in scan(dynamodb, os.environ["CUSTOMER_ACTIVITY_TABLE"]))

    dead_jobs = drain_bodies(sqs, jobs_dlq)
    dead_events = {name: drain_bodies(sqs, dlq) for name, (_, dlq) in queues.items() if name != "job-worker"}

    def lost(counter: Counter, expected: set) -> int:
        return sum(1 for key in expected if counter.get(key, 0) == 0)

    def duplicated(counter: Counter, expected: set) -> int:
        return sum(count - 1 for key, count in counter.items() if key in expected and count > 1)

    def unexpected(counter: Counter, expected: set) -> int:
        return sum(count for key, count in counter.items() if key not in expected)

    ids = set(job_ids)
    large = {order for order, is_large in orders.items() if is_large}
    poison_event_bodies = sorted(poison_events)
    rows = [
        ("jobs SUCCEEDED", sum(1 for i in ids if jobs.get(i, {}).get("status") == "SUCCEEDED"), JOBS),
        ("jobs stuck QUEUED or RUNNING", sum(1 for i in ids if jobs.get(i, {}).get("status") in ("QUEUED", "RUNNING")), 0),
        ("jobs FAILED", sum(1 for i in ids if jobs.get(i, {}).get("status") == "FAILED"), 0),
        ("job.succeeded events lost", lost(succeeded_events, ids), 0),
        ("job.succeeded events duplicated", duplicated(succeeded_events, ids) + unexpected(succeeded_events, ids), 0),
        ("job notifications lost", lost(job_notes, ids), 0),
        ("job notifications duplicated", duplicated(job_notes, ids) + unexpected(job_notes, ids), 0),
        ("order.created audit records lost", lost(order_events, set(orders)), 0),
        ("order.created audit records duplicated", duplicated(order_events, set(orders)), 0),
        ("order notifications lost", lost(order_notes, customers), 0),
        ("order notifications duplicated", duplicated(order_notes, customers), 0),
        ("large-order alerts lost", lost(alerts, large), 0),
        ("alerts duplicated or for small orders", duplicated(alerts, large) + unexpected(alerts, large), 0),
        ("order reviews lost (bus rule on the total)", lost(reviews, large), 0),
        ("reviews duplicated or for small orders", duplicated(reviews, large) + unexpected(reviews, large), 0),
        ("customer timeline lines lost", lost(timelines, customers), 0),
        ("customer timeline lines duplicated", duplicated(timelines, customers), 0),
        ("poison job messages in the jobs DLQ", len(dead_jobs), POISON_JOBS),
        ("poison job messages missing from the DLQ", len(Counter(poison_bodies) - Counter(dead_jobs)), 0),
        ("other messages in the jobs DLQ", len(Counter(dead_jobs) - Counter(poison_bodies)), 0),
    ]
    for name, bodies in dead_events.items():
        in_dlq = sorted(json.loads(body).get("Message", body) if body.startswith("{") else body for body in bodies)
        reached = delivers(template, queues[name][0], {"event_type": POISON_EVENT_TYPE})
        rows.append((f"poison events in the {name} DLQ", len(in_dlq), POISON_EVENTS if reached else 0))
        rows.append((f"other messages in the {name} DLQ", len(Counter(in_dlq) - Counter(poison_event_bodies)), 0))

    log = (ROOT / ".local" / "stack.log").read_text(errors="replace") if (ROOT / ".local" / "stack.log").exists() else ""
    faults = log.count("injected transient fault")
    dropped = log.count("dropped (LOCAL_POLLER_DROP_EVERY)")
    print()
    print(f"{'check':<48} {'got':>8} {'want':>8}")
    failures = 0
    for name, got, want in rows:
        mark = "" if got == want else "  <-- FAILED"
        failures += got != want
        print(f"{name:<48} {got:>8} {want:>8}{mark}")
    print()
    print(f"submitted {JOBS} jobs in {submit_seconds:.0f} s ({JOBS / submit_seconds:.1f} jobs/s through the API)")
    print(f"everything drained {total_seconds:.0f} s after the first request ({JOBS / total_seconds:.1f} jobs/s end to end, "
          f"{(JOBS + ORDERS) * 2 / total_seconds:.1f} subscriber deliveries/s)")
    print(f"faults injected: {faults} records failed their first delivery, {dropped} batches dropped mid-flight")
    result = {"jobs": JOBS, "orders": ORDERS, "submit_seconds": round(submit_seconds, 1), "total_seconds": round(total_seconds, 1),
              "injected_faults": faults, "dropped_batches": dropped, "checks": {name: [got, want] for name, got, want in rows}}
    out = Path(ROOT / "target" / "load.json")
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"{'all checks passed' if not failures else f'{failures} checks FAILED'}; results in {out.relative_to(ROOT)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
