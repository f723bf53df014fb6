"""A walk through the patterns over real HTTP, printing every request and answer.

Run by `make demo` inside a local stack (LOCAL_API_URL is the local HTTP API). Exits non-zero
if any answer's status is not the one the walk expects, so the demo doubles as a smoke test.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import nullcontext

from tools.shared.cfn import patterns_here

API = os.environ.get("LOCAL_API_URL", "")

ORDER = {"customer_id": "c-42", "currency": "EUR", "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 1250}, {"sku": "MUG-3", "quantity": 1, "unit_price": 899}]}


def call(title: str, method: str, path: str, expect: int, body: bytes | str | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict, dict | None]:
    data = body.encode() if isinstance(body, str) else body
    headers = dict(headers or {})
    request = urllib.request.Request(API + path, data=data, method=method, headers=headers)
    print(f"\n=== {title}")
    print(f"> {method} {path}")
    for name, value in headers.items():
        print(f"> {name}: {value}")
    if data:
        shown = data.decode(errors="replace")
        print(f"> {shown if len(shown) <= 300 else shown[:300] + f'... ({len(data)} bytes)'}")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, answer_headers, text = answer.status, dict(answer.headers), answer.read().decode()
    except urllib.error.HTTPError as error:
        status, answer_headers, text = error.code, dict(error.headers), error.read().decode()
    print(f"< {status}")
    for name in ("content-type", "location", "allow", "retry-after", "idempotent-replayed", "accept-post"):
        if name in {k.lower() for k in answer_headers}:
            value = next(v for k, v in answer_headers.items() if k.lower() == name)
            print(f"< {name}: {value}")
    document = json.loads(text) if text else None
    print(f"< {json.dumps(document, indent=2) if document is not None else ''}")
    if status != expect:
        print(f"!!! expected {expect}, got {status}")
        call.failures += 1
    return status, answer_headers, document


call.failures = 0


def main() -> int:
    if not API:
        print("LOCAL_API_URL is not set: run this through `make demo`")
        return 2
    patterns = patterns_here()
    print(f"The patterns of this project: {', '.join(patterns)}\n")
    order_id = None
    # starter: with sync
    order_id = orders_walk()
    # starter: end
    # starter: with async
    jobs_walk(order_id)
    # starter: end
    # starter: with fanout
    # starter: with sync
    fanout_walk()
    # starter: end
    # starter: end
    # starter: with realtime|callbacks
    push_walk(websocket="realtime" in patterns, webhook="callbacks" in patterns)
    # starter: end
    # starter: with events
    # starter: with sync
    events_walk()
    # starter: end
    # starter: end

    print(f"\n{'demo finished' if not call.failures else f'{call.failures} unexpected answer(s)'}")
    return 1 if call.failures else 0


# starter: with sync
def orders_walk() -> str | None:
    """Synchronous request-response: the answer now, idempotent retries, every refusal precise."""
    json_headers = {"content-type": "application/json"}
    key = str(uuid.uuid4())

    print("Synchronous request-response: API Gateway HTTP API -> orders-api -> DynamoDB")
    _, headers, created = call("Create an order", "POST", "/orders", 201, json.dumps(ORDER), json_headers)
    location = next((v for k, v in headers.items() if k.lower() == "location"), "/orders/missing")
    call("Read it back at its Location", "GET", location, 200)

    call("Create with an Idempotency-Key", "POST", "/orders", 201, json.dumps(ORDER), {**json_headers, "idempotency-key": key})
    call("Retry with the same key: the same answer, no new order", "POST", "/orders", 201, json.dumps(ORDER), {**json_headers, "idempotency-key": key})
    other = {**ORDER, "items": [{"sku": "BOOK-1", "quantity": 5, "unit_price": 1250}]}
    call("The same key with another body", "POST", "/orders", 422, json.dumps(other), {**json_headers, "idempotency-key": key})

    call("Malformed JSON", "POST", "/orders", 400, '{"customer_id": "c-42", "items": [', json_headers)
    call("Invalid fields, all named at once", "POST", "/orders", 422,
         json.dumps({"customer_id": "", "currency": "euro", "items": [{"sku": "X", "quantity": 0, "unit_price": 1.5}], "coupon": "FREE"}), json_headers)
    call("An amount beyond what the API accepts", "POST", "/orders", 422,
         json.dumps({**ORDER, "items": [{"sku": "YACHT", "quantity": 10000, "unit_price": 9007199254740991}]}), json_headers)
    call("Not JSON", "POST", "/orders", 415, "customer=c-42", {"content-type": "application/x-www-form-urlencoded"})
    call("A body over the 64 KiB limit", "POST", "/orders", 413, json.dumps({**ORDER, "padding": "x" * 70_000}), json_headers)
    call("An order that does not exist", "GET", f"/orders/{uuid.uuid4()}", 404)
    call("A method the resource does not accept", "DELETE", location, 405)
    call("A path under /orders the API does not serve", "GET", f"{location}/items", 404)
    call("A path no API of the stack claims: API Gateway's own 404, no function invoked", "GET", "/customers", 404)
    return created and created.get("id")
# starter: end


# starter: with async
def jobs_walk(order_id: str | None) -> None:
    """Asynchronous request-reply: 202 now, the work later, the status polled; poison to the DLQ.
    With an order, an invoice job renders its invoice."""
    import boto3

    print("\n\nAsynchronous request-reply: jobs-api -> SQS -> job-worker (batches) -> DynamoDB")
    json_headers = {"content-type": "application/json"}
    invoice = None
    # starter: with sync
    if order_id:
        _, _, invoice = call("Submit an invoice job for the order", "POST", "/jobs", 202,
                             json.dumps({"type": "invoice", "input": {"order_id": order_id}}), json_headers)
    # starter: end
    _, _, report = call("Submit a slow job (2 s): the API answers at once", "POST", "/jobs", 202,
                        json.dumps({"type": "report", "input": {"seconds": 2}}), json_headers)
    call("An invalid job", "POST", "/jobs", 422, json.dumps({"type": "report", "input": {"seconds": 3600}}), json_headers)

    for job in (report, invoice):
        if not job:
            continue
        seen = [job["status"]]  # what the 202 said
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status, _, polled = call_quiet("GET", f"/jobs/{job['id']}")
            if seen[-1] != polled["status"]:
                seen.append(polled["status"])
            if polled["status"] in ("SUCCEEDED", "FAILED"):
                break
            time.sleep(0.2)
        print(f"\n=== Polling GET /jobs/{job['id']}: {' -> '.join(seen)}")
        if seen[-1] != "SUCCEEDED":
            print("!!! expected SUCCEEDED")
            call.failures += 1
    call("The finished invoice job", "GET", f"/jobs/{invoice['id']}", 200) if invoice else None

    sqs = boto3.client("sqs")
    jobs_queue = sqs.get_queue_url(QueueName="JobsQueue")["QueueUrl"]
    dead_letters = sqs.get_queue_url(QueueName="JobsDeadLetterQueue")["QueueUrl"]
    poison = "this is not a job message"
    print(f"\n=== A poison message straight onto the jobs queue: {poison!r}")
    sqs.send_message(QueueUrl=jobs_queue, MessageBody=poison)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                       AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
        landed = [m for m in messages if m["Body"] == poison]
        if landed:
            # The count includes the receive just made from the DLQ to show it.
            receives = int(landed[0]["Attributes"]["ApproximateReceiveCount"]) - 1
            print(f"< in JobsDeadLetterQueue after {receives} receives from the jobs queue "
                  "(maxReceiveCount 6): the worker reported it failed each time")
            break
        time.sleep(0.5)
    else:
        print("!!! the poison message did not reach the DLQ")
        call.failures += 1
# starter: end


# starter: with fanout
# starter: with sync
def fanout_walk() -> None:
    """Publish-subscribe: one order.created event, each subscriber gets what it asked for."""
    import boto3

    print("\n\nPublish-subscribe fan-out: outbox -> stream -> event-publisher -> SNS -> subscribers")
    json_headers = {"content-type": "application/json"}
    _, _, small = call("A small order (36.00 EUR)", "POST", "/orders", 201,
                       json.dumps({"customer_id": "c-small", "currency": "EUR", "items": [{"sku": "PEN-7", "quantity": 2, "unit_price": 1500}]}), json_headers)
    _, _, large = call("A large order (3000.00 EUR): over the alert threshold", "POST", "/orders", 201,
                       json.dumps({"customer_id": "c-large", "currency": "EUR", "items": [{"sku": "PIANO-1", "quantity": 1, "unit_price": 250000}]}), json_headers)
    if not small or not large:
        return
    dynamodb = boto3.client("dynamodb")
    tables = {"notifier": os.environ["NOTIFICATIONS_TABLE"], "audit-log": os.environ["AUDIT_LOG_TABLE"]}

    def received() -> dict[str, list[dict]]:
        rows = {name: [{k: next(iter(v.values())) for k, v in item.items()} for item in dynamodb.scan(TableName=table)["Items"]]
                for name, table in tables.items()}
        mentions = lambda row: small["id"] in json.dumps(row) or large["id"] in json.dumps(row) or row.get("recipient", "").endswith(("c-small", "c-large"))  # noqa: E731
        return {name: [row for row in items if mentions(row)] for name, items in rows.items()}

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        got = received()
        alerts = [row for row in got["notifier"] if row["id"].startswith("alert#")]
        notes = [row for row in got["notifier"] if row["id"].startswith("notification#")]
        if len(notes) >= 2 and len(got["audit-log"]) >= 2 and alerts:
            break
        time.sleep(0.3)
    print("\n=== What each subscriber received")
    for row in notes:
        print(f"< notifier (SQS, raw, attribute filter): {row['recipient']}: {row['message']}")
    for row in got["audit-log"]:
        print(f"< audit-log (SQS, every event, SNS envelope): {row['event_type']} {row['event_id']} (SNS message {row.get('sns_message_id', '?')})")
    for row in alerts:
        print(f"< large-order-alert (SNS -> Lambda, body filter total >= 100000): order {row['order_id']} total {row['total']} {row['currency']}")
    if len(notes) < 2 or len(got["audit-log"]) < 2 or [a["order_id"] for a in alerts] != [large["id"]]:
        print("!!! expected two notifications, two audit records and one alert (for the large order only)")
        call.failures += 1
    else:
        print("< the small order raised no alert: the body filter kept it from large-order-alert")
# starter: end
# starter: end


# starter: with events
# starter: with sync
def events_walk() -> None:
    """Event-driven choreography: three orders on the EventBridge bus, each routed by its content."""
    import boto3

    print("\n\nEvent-driven choreography: outbox -> stream -> event-relay -> EventBridge bus -> rules -> targets")
    tag = uuid.uuid4().hex[:6]
    json_headers = {"content-type": "application/json"}
    placed = {}
    for label, customer, unit_price in (("A large retail order (1800.00 EUR): the numeric range", f"c-{tag}", 150000),
                                        ("A wholesale order (12.00 EUR): the b2b- prefix", f"b2b-{tag}", 1000),
                                        ("A small retail order (12.00 EUR): no review", f"c-{tag}-small", 1000)):
        _, _, order = call(label, "POST", "/orders", 201, json.dumps(
            {"customer_id": customer, "currency": "EUR", "items": [{"sku": "DESK-1", "quantity": 1, "unit_price": unit_price}]}), json_headers)
        if not order:
            return
        placed[label] = order
    dynamodb = boto3.client("dynamodb")

    def rows(table: str, **query) -> list[dict]:
        items = dynamodb.query(TableName=table, **query)["Items"] if query else dynamodb.scan(TableName=table)["Items"]
        return [{k: next(iter(v.values())) for k, v in item.items()} for item in items]

    ids = {order["id"] for order in placed.values()}
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reviews = [row for row in rows(os.environ["REVIEWS_TABLE"]) if row["order_id"] in ids]
        lines = [row for order in placed.values() for row in rows(os.environ["CUSTOMER_ACTIVITY_TABLE"], KeyConditionExpression="customer_id = :c",
                                                                    ExpressionAttributeValues={":c": {"S": order["customer_id"]}})]
        if len(reviews) >= 2 and len(lines) >= 3:
            break
        time.sleep(0.3)
    print("\n=== What each target received")
    for row in reviews:
        print(f"< order-review (SQS target; LargeOrdersReviewRule or WholesaleOrdersReviewRule): order {row['order_id']} of {row['customer_id']}, total {row['total']}")
    for row in lines:
        print(f"< customer-activity (Lambda target, input transformer): {row['customer_id']}: {row['event_type']} at {row['at']}")
    small = placed["A small retail order (12.00 EUR): no review"]["id"]
    if len(reviews) != 2 or small in {row["order_id"] for row in reviews} or len(lines) != 3:
        print("!!! expected two reviews (not the small order) and three timeline lines")
        call.failures += 1
    else:
        print("< the small retail order matched no review rule; every order is on its customer's timeline")
# starter: end
# starter: end


# starter: with realtime|callbacks
def push_walk(websocket: bool, webhook: bool) -> None:
    """A job finishing live over WebSocket (realtime), and its signed webhook arriving (callbacks)."""
    import boto3
    from websockets.sync.client import connect  # starter: with realtime

    from tools.local.webhook_receiver import Receiver, caller_key  # starter: with callbacks
    from tools.local.ws_token import mint  # starter: with realtime

    # starter: with realtime
    if websocket:
        print("\n\nPush: WebSocket (API Gateway WebSocket API -> ws-api; events -> ws-push -> PostToConnection)")
    # starter: end
    # starter: with callbacks
    if webhook:
        print(f"\n\n{'      and' if websocket else 'Callbacks:'} signed webhooks (events -> webhook-dispatcher -> POST callback_url)")
    # starter: end
    secrets = boto3.client("secretsmanager", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    receiver = None
    receiver = Receiver(caller_key(os.environ["LOCAL_API_URL"])) if webhook else None  # starter: with callbacks
    session = nullcontext()
    # starter: with realtime
    if websocket:
        token_key = secrets.get_secret_value(SecretId="WsTokenSecret")["SecretString"].encode()
        token = mint(token_key, "c-42", int(time.time()) + 300)
        print(f"\n=== Connect a WebSocket client\n> {os.environ['LOCAL_WS_URL']}/?token={token[:24]}...")
        session = connect(f"{os.environ['LOCAL_WS_URL']}/?token={token}", open_timeout=30)
    # starter: end
    try:
        with session as websocket:
            if websocket:
                print("< connected")
            body = {"type": "report", "input": {"seconds": 2}}
            # starter: with realtime
            if websocket:
                body["customer_id"] = "c-42"  # the customer the WebSocket speaks for follows it
            # starter: end
            if receiver:
                body["callback_url"] = receiver.url
            title = "A job that takes 2 s" + (", with a callback URL" if receiver else "")
            _, _, job = call(title, "POST", "/jobs", 202, json.dumps(body), {"content-type": "application/json"})
            # starter: with realtime
            if job and websocket:
                subscribe = json.dumps({"action": "subscribe", "job_id": job["id"]})
                print(f"\n=== Follow it over the WebSocket\n> {subscribe}")
                websocket.send(subscribe)
                print(f"< {websocket.recv(timeout=30)}")
                started = time.monotonic()
                while True:
                    try:
                        message = json.loads(websocket.recv(timeout=60))
                    except TimeoutError:
                        print("!!! no job event arrived over the WebSocket")
                        call.failures += 1
                        break
                    if message.get("data", {}).get("job_id") == job["id"]:
                        print(f"< pushed {time.monotonic() - started:.1f} s later: {json.dumps(message)}")
                        break
            # starter: end
        if not receiver or not job:
            return
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        print(f"\n=== The webhook at {receiver.url}")
        for request in receiver.requests:
            print(f"> POST {request['path']}")
            print(f"> webhook-id: {request['id']}")
            print(f"> webhook-timestamp: {request['timestamp']}")
            print(f"> webhook-signature: {request['signature']}")
            print(f"> {json.dumps(request['body'])}")
            print(f"< {request['status']} (signature {'verified' if request['verified'] else 'DID NOT VERIFY'})")
        if len(receiver.requests) != 1 or not receiver.requests[0]["verified"]:
            print("!!! expected one delivery with a signature that verifies")
            call.failures += 1
    finally:
        if receiver:
            receiver.close()

    # starter: with callbacks
    call("A callback URL that points into the network is refused at submit time", "POST", "/jobs", 422,
         json.dumps({"type": "report", "input": {"seconds": 0}, "callback_url": "https://169.254.169.254/latest/meta-data/"}),
         {"content-type": "application/json"})
    # starter: end
# starter: end


def call_quiet(method: str, path: str) -> tuple[int, dict, dict]:
    with urllib.request.urlopen(urllib.request.Request(API + path, method=method), timeout=60) as answer:
        return answer.status, dict(answer.headers), json.loads(answer.read())


if __name__ == "__main__":
    sys.exit(main())
