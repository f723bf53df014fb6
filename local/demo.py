"""A walk through the orders API over real HTTP, printing every request and answer.

Run by `make demo` inside a local stack (LOCAL_API_URL is the local HTTP API). Exits non-zero
if any answer's status is not the one the walk expects, so the demo doubles as a smoke test.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
import uuid

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
    call("A path the API does not serve", "GET", "/customers", 404)

    print(f"\n{'demo finished' if not call.failures else f'{call.failures} unexpected answer(s)'}; created order {created and created.get('id')}")
    return 1 if call.failures else 0


if __name__ == "__main__":
    sys.exit(main())
