"""A webhook receiver on 127.0.0.1 for the demo and the tests: it checks every delivery's
signature the way the Standard Webhooks specification describes (written here in Python,
independently of the Rust signer), can fail its first N requests, and records what it got.

Locally only: jobs may name http://127.0.0.1 callback URLs because the stack sets
LOCAL_WEBHOOKS_ALLOW_LOOPBACK, which the functions honour only under the local stack.

With `make up` running, it prints every delivery it gets and whether its signature verified
with the caller's receiver key (GET /webhooks/key as the local stand-in caller, who submits
the jobs of curl and the demo):

    .venv/bin/python -m tools.local.webhook_receiver [port, default 8081]
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 300


def key_bytes(secret: str) -> bytes:
    """A Standard Webhooks secret (`whsec_<base64>`) as the HMAC key it holds."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def caller_key(api_url: str) -> bytes:
    """The receiver key of the caller the local gateway stands in (GET /webhooks/key): what
    signs the deliveries of the jobs that caller submits."""
    import urllib.request  # noqa: PLC0415

    with urllib.request.urlopen(f"{api_url}/webhooks/key", timeout=30) as answer:
        return key_bytes(json.loads(answer.read())["key"])


def verify(key: bytes, headers, body: bytes, now: float | None = None) -> bool:
    """Standard Webhooks: HMAC-SHA256 over "{webhook-id}.{webhook-timestamp}.{body}", base64,
    one of the space-separated "v1,<signature>" values, timestamp within five minutes."""
    msg_id, timestamp = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "")
    if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()).decode()
    signatures = [part[3:] for part in headers.get("webhook-signature", "").split(" ") if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, signature) for signature in signatures)


class Receiver:
    """Fails the first `failures` requests with a 500 (float("inf"): all of them), answers the
    others 204, and records each request with whether its signature verified."""

    def __init__(self, key: bytes, failures: int | float = 0, path: str = "/hooks/jobs", port: int = 0, show: bool = False):
        self.key, self.failures = key, failures
        self.requests: list[dict] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.lock:
                    status = 500 if len(receiver.requests) < receiver.failures else 204
                    record = {
                        "id": self.headers.get("webhook-id"),
                        "timestamp": self.headers.get("webhook-timestamp"),
                        "signature": self.headers.get("webhook-signature"),
                        "verified": verify(receiver.key, self.headers, body),
                        "body": json.loads(body),
                        "raw": body,
                        "headers": dict(self.headers.items()),
                        "path": self.path,
                        "status": status,
                    }
                    receiver.requests.append(record)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()
                if show:
                    print(f"{'verified' if record['verified'] else 'NOT VERIFIED'} {record['id']}: {json.dumps(record['body'])}", flush=True)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def accepted(self) -> list[dict]:
        return [request for request in self.requests if request["status"] == 204]

    def close(self) -> None:
        self.server.shutdown()


def main() -> int:
    from tools.local.stack import STATE_FILE  # noqa: PLC0415 (the tests import this module without the stack)

    if not STATE_FILE.exists() or "LOCAL_API_URL" not in (state := json.loads(STATE_FILE.read_text())):
        print("no local stack with its functions is running: start one with `make up`")
        return 1
    key = caller_key(state["LOCAL_API_URL"])
    receiver = Receiver(key, port=int(sys.argv[1]) if len(sys.argv) > 1 else 8081, show=True)
    print(f"receiving signed webhooks at {receiver.url} (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        receiver.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
