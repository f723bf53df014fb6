"""Invoking a function through the Lambda Invoke API that cargo-lambda serves."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class InvocationFailed(Exception):
    """The function did not answer: it errored, timed out, or could not be reached."""


def invoke(endpoint: str, binary: str, event: Any, timeout: float) -> Any:
    """The function's answer to `event`, or InvocationFailed."""
    request = urllib.request.Request(
        f"{endpoint}/2015-03-31/functions/{binary}/invocations",
        data=json.dumps(event).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            if answer.headers.get("x-amz-function-error"):
                raise InvocationFailed(f"{binary} returned an error: {answer.read()[:500]!r}")
            return json.loads(answer.read() or b"null")
    except (urllib.error.URLError, json.JSONDecodeError, TimeoutError, ConnectionError) as error:
        raise InvocationFailed(f"invoking {binary} failed: {error}") from error
