"""Prints a WebSocket `$connect` token for a customer, minted with the running local stack's
secret (what your login service would do in production; see realtime::token).

    .venv/bin/python -m local.ws_token c-42 [seconds valid, default 3600]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import time

import boto3

from .cfn import REGION
from .stack import STATE_FILE


def mint(key: bytes, customer_id: str, expires_at: int) -> str:
    claims = f"v1.{customer_id}.{expires_at}"
    signature = base64.urlsafe_b64encode(hmac.new(key, claims.encode(), hashlib.sha256).digest()).rstrip(b"=").decode()
    return f"{claims}.{signature}"


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if not STATE_FILE.exists():
        print("no local stack is running: start one with `make up`")
        return 1
    endpoint = json.loads(STATE_FILE.read_text())["AWS_ENDPOINT_URL"]
    secrets = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION,
                           aws_access_key_id="local", aws_secret_access_key="local")
    key = secrets.get_secret_value(SecretId="WsTokenSecret")["SecretString"].encode()
    valid_for = int(sys.argv[2]) if len(sys.argv) > 2 else 3600
    print(mint(key, sys.argv[1], int(time.time()) + valid_for))
    return 0


if __name__ == "__main__":
    sys.exit(main())
