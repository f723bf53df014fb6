"""End to end on the laptop: HTTP -> local gateway -> orders-api under cargo-lambda -> moto.

The same path a request takes in AWS (API Gateway -> Lambda -> DynamoDB), with the emulators in
place of the services. `make test` starts the stack and sets LOCAL_API_URL.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid

import pytest


API = os.environ.get("LOCAL_API_URL", "")


@pytest.fixture(autouse=True)
def local_stack():
    if not API:
        pytest.fail("LOCAL_API_URL is not set: these tests need the local stack; run them with `make test`")


def call(method, path, body=None, headers=None):
    request = urllib.request.Request(API + path, data=body.encode() if body else None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


ORDER = json.dumps({"customer_id": "c-e2e", "currency": "JPY", "items": [{"sku": "TEA-1", "quantity": 3, "unit_price": 480}]})


def test_an_order_created_over_http_is_read_back_over_http():
    status, headers, body = call("POST", "/orders", ORDER, {"content-type": "application/json"})
    assert status == 201, body
    created = json.loads(body)
    assert headers["location"] == f"/orders/{created['id']}"
    assert (created["subtotal"], created["tax"], created["total"]) == (1440, 288, 1728)

    status, headers, body = call("GET", headers["location"])
    assert status == 200 and json.loads(body) == created


def test_orders_created_and_replayed_are_counted_in_embedded_metric_documents():
    from flow import log_mark, wait_for_metric

    from tools.shared.cfn import Template

    mark = log_mark()
    headers = {"content-type": "application/json", "idempotency-key": str(uuid.uuid4())}
    assert call("POST", "/orders", ORDER, headers)[0] == call("POST", "/orders", ORDER, headers)[0] == 201

    created = wait_for_metric(mark, "Orders", "created", "orders-api")[0]
    wait_for_metric(mark, "Orders", "replayed", "orders-api")
    namespace = os.environ.get("METRICS_NAMESPACE") or Template.read().body["Parameters"]["MetricsNamespace"]["Default"]
    assert created["_aws"]["CloudWatchMetrics"] == [{
        "Namespace": namespace, "Dimensions": [["function", "outcome"]], "Metrics": [{"Name": "Orders", "Unit": "Count"}]}]
    assert created["Orders"] == 1
    if os.environ.get("LOCAL_API_EMULATOR") != "sam":  # SAM's emulator gives no X-Ray trace id
        assert created["xrayTraceId"].startswith("Root=1-")
    # The function's cold start was counted once, before its first invocation.
    cold = wait_for_metric(0, "ColdStart", None, "orders-api")[0]
    assert cold["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function"]] and cold["ColdStart"] == 1


def test_an_idempotent_retry_over_http_is_replayed():
    key = str(uuid.uuid4())
    headers = {"content-type": "application/json", "idempotency-key": key}
    first = call("POST", "/orders", ORDER, headers)
    again = call("POST", "/orders", ORDER, headers)
    assert first[0] == again[0] == 201
    assert json.loads(first[2]) == json.loads(again[2])
    assert again[1].get("idempotent-replayed") == "true"


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "status"),
    [
        ("POST", "/orders", '{"customer_id": ', "application/json", 400),
        ("POST", "/orders", '{"customer_id": "c"}', "application/json", 422),
        ("POST", "/orders", ORDER, "text/plain", 415),
        ("GET", f"/orders/{uuid.uuid4()}", None, None, 404),
        ("GET", f"/orders/{uuid.uuid4()}/items", None, None, 404),
        ("PATCH", "/orders", None, None, 405),
    ],
)
def test_client_errors_come_back_as_problem_details(method, path, body, content_type, status):
    answer_status, headers, answer = call(method, path, body, {"content-type": content_type} if content_type else {})
    assert answer_status == status, answer
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(answer)["status"] == status


def test_a_path_no_api_claims_gets_the_gateways_own_answer_and_invokes_nothing():
    """No $default route: each API answers its own paths, API Gateway the rest (404 and
    {"message": "Not Found"}; SAM's emulator answers 403 "Missing Authentication Token" instead)."""
    status, headers, answer = call("GET", "/customers")
    expected = (403, {"message": "Missing Authentication Token"}) if os.environ.get("LOCAL_API_EMULATOR") == "sam" \
        else (404, {"message": "Not Found"})
    assert (status, json.loads(answer)) == expected
    assert headers.get("content-type") != "application/problem+json"


def test_each_request_is_one_json_log_line_with_its_outcome_and_never_its_body():
    import time

    from flow import function_log

    marker = f"c-{uuid.uuid4().hex[:12]}"
    body = json.dumps({"customer_id": marker, "currency": "EUR", "items": [{"sku": "LOG-1", "quantity": 1, "unit_price": 1}]})
    status, headers, _ = call("POST", "/orders", body, {"content-type": "application/json"})
    assert status == 201

    # The functions' log: the local stack's, or SAM's under make sam-local (written a moment later).
    path = function_log()
    deadline = time.monotonic() + 10
    while True:
        log = path.read_text()
        lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
        requests = [line["fields"] for line in lines if line.get("fields", {}).get("message") == "request"]
        logged = any(
            r["route"] == "/orders" and r["method"] == "POST" and r["status"] == 201 and r["request_id"] and r["latency_ms"] >= 0
            for r in requests
        )
        if logged or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert logged, f"no request line for the POST in {path}"
    # Every line of the invocation carries Lambda's request id and the X-Ray trace id.
    line = next(line for line in lines if line.get("fields", {}).get("message") == "request" and line["fields"]["status"] == 201)
    assert line["span"]["requestId"] == line["fields"]["request_id"]
    if os.environ.get("LOCAL_API_EMULATOR") != "sam":  # SAM's emulator gives no X-Ray trace id
        assert line["span"]["xrayTraceId"].startswith("Root=1-")
    assert marker not in log, "a request body reached the logs"
