"""The Python peer of orders-api's POST /orders, for the cold-start comparison in `make bench`.

Written the way a Python user would write it: boto3 client at module level (init), the same
validation rules in short, the same pricing, and the same DynamoDB write (order + outbox event in
one TransactWriteItems). It is a baseline, not a second implementation to maintain: only the
create path is here, and only what the benchmark's event exercises is checked.
"""

import json
import os
import time
import uuid
from datetime import datetime, timezone

import boto3

ORDERS_TABLE = os.environ["ORDERS_TABLE"]
OUTBOX_TABLE = os.environ["OUTBOX_TABLE"]
TAX_RATE_BASIS_POINTS = int(os.environ.get("TAX_RATE_BASIS_POINTS", "2000"))
OUTBOX_RETENTION_SECONDS = 3 * 24 * 3600
MAX_BODY_BYTES = 64 * 1024

dynamodb = boto3.client("dynamodb")


def problem(status: int, title: str, **extra) -> dict:
    return {
        "statusCode": status,
        "headers": {"content-type": "application/problem+json"},
        "body": json.dumps({"type": "about:blank", "title": title, "status": status, **extra}),
    }


def validate(body) -> tuple[dict | None, list[dict]]:
    errors = []
    if not isinstance(body, dict):
        return None, [{"pointer": "", "detail": "must be a JSON object"}]
    customer_id = body.get("customer_id")
    if not isinstance(customer_id, str) or not 0 < len(customer_id) <= 64:
        errors.append({"pointer": "/customer_id", "detail": "must be a non-empty string"})
    currency = body.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper():
        errors.append({"pointer": "/currency", "detail": "must be an ISO 4217 currency code"})
    items = body.get("items")
    if not isinstance(items, list) or not 0 < len(items) <= 100:
        errors.append({"pointer": "/items", "detail": "must hold 1 to 100 items"})
        items = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("sku"), str):
            errors.append({"pointer": f"/items/{index}", "detail": "must be an item"})
            continue
        for field in ("quantity", "unit_price"):
            if not isinstance(item.get(field), int) or item[field] < 0:
                errors.append({"pointer": f"/items/{index}/{field}", "detail": "must be a whole number"})
    return (None if errors else body), errors


def handler(event, context):
    headers = {name.lower(): value for name, value in (event.get("headers") or {}).items()}
    if not headers.get("content-type", "").startswith("application/json"):
        return problem(415, "Unsupported Media Type")
    raw = event.get("body") or ""
    if len(raw.encode()) > MAX_BODY_BYTES:
        return problem(413, "Content Too Large")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as error:
        return problem(400, "Bad Request", detail=f"not JSON: {error}")
    request, errors = validate(body)
    if errors:
        return problem(422, "Unprocessable Content", errors=errors)

    lines = [
        {**item, "line_total": item["quantity"] * item["unit_price"]} for item in request["items"]
    ]
    subtotal = sum(line["line_total"] for line in lines)
    tax = (subtotal * TAX_RATE_BASIS_POINTS + 5000) // 10000
    now = datetime.now(timezone.utc)
    order = {
        "id": str(uuid.uuid4()),
        "customer_id": request["customer_id"],
        "currency": request["currency"],
        "items": lines,
        "subtotal": subtotal,
        "tax_rate_basis_points": TAX_RATE_BASIS_POINTS,
        "tax": tax,
        "total": subtotal + tax,
        "created_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    event_id = str(uuid.uuid4())
    envelope = {
        "id": event_id,
        "type": "order.created",
        "version": 1,
        "time": order["created_at"],
        "source": "orders-api",
        "data": order,
    }
    item = {
        "id": {"S": order["id"]},
        "customer_id": {"S": order["customer_id"]},
        "currency": {"S": order["currency"]},
        "items": {
            "L": [
                {"M": {name: ({"S": value} if name == "sku" else {"N": str(value)}) for name, value in line.items()}}
                for line in lines
            ]
        },
        **{name: {"N": str(order[name])} for name in ("subtotal", "tax_rate_basis_points", "tax", "total")},
        "created_at": {"S": order["created_at"]},
    }
    dynamodb.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": ORDERS_TABLE, "Item": item, "ConditionExpression": "attribute_not_exists(id)"}},
            {
                "Put": {
                    "TableName": OUTBOX_TABLE,
                    "Item": {
                        "id": {"S": event_id},
                        "event_type": {"S": "order.created"},
                        "envelope": {"S": json.dumps(envelope)},
                        "expires_at": {"N": str(int(time.time()) + OUTBOX_RETENTION_SECONDS)},
                    },
                    "ConditionExpression": "attribute_not_exists(id)",
                }
            },
        ]
    )
    print(json.dumps({"level": "INFO", "message": "request", "status": 201, "route": "/orders"}))
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "location": f"/orders/{order['id']}"},
        "body": json.dumps(order),
    }
