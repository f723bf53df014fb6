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

    from local.cfn import REGION

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
