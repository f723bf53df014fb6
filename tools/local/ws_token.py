"""Prints a WebSocket `$connect` token for a customer, minted with the running local stack's
secret (what your login service would do in production; see realtime::token).

    .venv/bin/python -m tools.local.ws_token c-42 [seconds valid, default 3600]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import sys
import time

from tools.local.stack import running_secret


def mint(key: bytes, customer_id: str, expires_at: int) -> str:
    claims = f"v1.{customer_id}.{expires_at}"
    signature = base64.urlsafe_b64encode(hmac.new(key, claims.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    return f"{claims}.{signature}"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    key = running_secret("WsTokenSecret")
    if key is None:
        print("no local stack is running: start one with `make up`")
        return 1
    valid_for = int(sys.argv[2]) if len(sys.argv) > 2 else 3600
    print(mint(key, sys.argv[1], int(time.time()) + valid_for))
    return 0


if __name__ == "__main__":
    sys.exit(main())
