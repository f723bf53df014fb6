"""What the end-to-end flow tests share."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request


def wait_until(predicate, timeout: float, what: str) -> None:
    """Polls `predicate` until it holds; fails the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def require_stack() -> str:
    """The local HTTP API's URL; fails the test when no local stack runs."""
    import os

    import pytest

    api = os.environ.get("LOCAL_API_URL", "")
    if not api:
        pytest.fail("LOCAL_API_URL is not set: these tests need the local stack; run them with `make test`")
    return api


def client(service: str):
    """An SDK client for the local AWS (moto) the stack started."""
    import os

    import boto3

    from tools.shared.cfn import REGION

    return boto3.client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"], region_name=REGION)


def call(method: str, path: str, body=None):
    """A JSON request to the local HTTP API: (status, the answer's JSON)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(os.environ.get("LOCAL_API_URL", "") + path, data=data, method=method,
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


# The functions' log lines ------------------------------------------------------------------------


def function_log():
    """Where the functions' stdout goes: the local stack's log (or SAM's under make sam-local)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("LOCAL_FUNCTION_LOG", root / ".local" / "stack.log"))


def log_mark() -> int:
    """Where the functions' log ends now: read what follows with `json_lines(mark)`."""
    path = function_log()
    return path.stat().st_size if path.exists() else 0


def json_lines(mark: int = 0) -> list[dict]:
    """The JSON objects the functions wrote after `mark`, one per line (other lines skipped)."""
    with open(function_log(), "rb") as log:
        log.seek(mark)
        text = log.read().decode("utf-8", errors="replace")
    lines = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return lines


def check_emf(document: dict) -> None:
    """Fails unless `document` is an Embedded Metric Format document CloudWatch accepts: a
    millisecond timestamp, a namespace, every dimension and metric a member of the right type,
    at most 30 dimensions and 100 metrics (the format's specification)."""
    directive = document["_aws"]
    assert isinstance(directive["Timestamp"], int) and directive["Timestamp"] > 1_600_000_000_000, directive
    for metrics in directive["CloudWatchMetrics"]:
        assert metrics["Namespace"] and len(metrics["Namespace"]) <= 255, metrics
        for dimension_set in metrics["Dimensions"]:
            assert 0 < len(dimension_set) <= 30, dimension_set
            for dimension in dimension_set:
                assert isinstance(document.get(dimension), str) and document[dimension], (dimension, document)
        assert 0 < len(metrics["Metrics"]) <= 100, metrics
        for metric in metrics["Metrics"]:
            assert metric.get("Unit", "None") in {"Count", "Milliseconds", "None"}, metric
            assert isinstance(document.get(metric["Name"]), (int, float)), (metric, document)


def metric_documents(mark: int = 0, metric: str | None = None, outcome: str | None = None) -> list[dict]:
    """The EMF documents written after `mark` (each checked with `check_emf`), of `metric` (and
    `outcome`) if given."""
    documents = []
    for line in json_lines(mark):
        if "_aws" not in line:
            continue
        check_emf(line)
        names = {m["Name"] for ms in line["_aws"]["CloudWatchMetrics"] for m in ms["Metrics"]}
        if metric is not None and metric not in names:
            continue
        if outcome is not None and line.get("outcome") != outcome:
            continue
        documents.append(line)
    return documents


def wait_for_metric(mark: int, metric: str, outcome: str | None, function: str, total: float = 1,
                    timeout: float = 20, documents: int | None = None) -> list[dict]:
    """Waits until the documents of `metric`/`outcome` from `function` (its binary, or its
    logical id under SAM) written after `mark` add up to at least `total`, or, for a metric whose
    values do not add up (a latency), until there are `documents` of them; returns them."""
    found: list[dict] = []

    def enough() -> bool:
        nonlocal found
        found = [d for d in metric_documents(mark, metric, outcome) if function_is(d["function"], function)]
        if documents is not None:
            return len(found) >= documents
        return sum(d[metric] for d in found) >= total

    wanted = f"{documents} documents" if documents is not None else f">= {total}"
    wait_until(enough, timeout, f"{metric} {outcome or ''} {wanted} from {function} in {function_log()}")
    return found


def function_is(name: str, binary: str) -> bool:
    """Whether a function name (AWS_LAMBDA_FUNCTION_NAME) is `binary`'s: the binary's name under
    cargo-lambda, its logical id (MyApiFunction for my-api) under SAM, a generated name in an account."""
    logical = "".join(part.capitalize() for part in binary.split("-")) + "Function"
    return name == binary or logical in name
