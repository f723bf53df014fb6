"""What the end-to-end flow tests share."""

from __future__ import annotations

import time


def wait_until(predicate, timeout: float, what: str) -> None:
    """Polls `predicate` until it holds; fails the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
