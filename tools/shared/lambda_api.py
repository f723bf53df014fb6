"""Invoking a function through the Lambda Invoke API that cargo-lambda serves, and the router
that puts one such API in front of one cargo-lambda watcher per function."""

from __future__ import annotations

import http.server
import json
import re
import threading
import urllib.error
import urllib.request
from typing import Any


class InvocationFailed(Exception):
    """The function did not answer: it errored, timed out, or could not be reached."""


class FunctionError(InvocationFailed):
    """The function ran and answered with an error (x-amz-function-error)."""


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
                raise FunctionError(f"{binary} returned an error: {answer.read()[:500]!r}")
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        # cargo-lambda answers a function's error with a 5xx and the error document.
        body = error.read()[:500]
        try:
            document = json.loads(body)
        except json.JSONDecodeError:
            document = None
        if isinstance(document, dict) and ("errorType" in document or "errorMessage" in document):
            raise FunctionError(f"{binary} returned an error: {body!r}") from error
        raise InvocationFailed(f"invoking {binary} failed: {error}") from error
    except (urllib.error.URLError, json.JSONDecodeError, TimeoutError, ConnectionError) as error:
        raise InvocationFailed(f"invoking {binary} failed: {error}") from error


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that answers with a body of known length and logs no access lines (the
    servers log what matters themselves)."""

    protocol_version = "HTTP/1.1"

    def answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(name, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


class LoopbackServer:
    """A threaded HTTP server on loopback, serving from a daemon thread once started."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler], port: int):
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name=type(self).__name__, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class InvokeRouter(LoopbackServer):
    """One Lambda Invoke API in front of one `cargo lambda watch` per function: a request for
    function F goes to F's own watcher, so each function runs with its own environment (as
    Lambda gives each function its own; cargo-lambda takes one environment per process)."""

    PATH = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations$")

    def __init__(self, endpoints: dict[str, str], port: int):
        self.endpoints = endpoints
        router = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:  # noqa: N802 - the http.server name
                match = router.PATH.match(self.path.split("?", 1)[0])
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                endpoint = router.endpoints.get(match.group(1)) if match else None
                if endpoint is None:
                    self.answer(404, {"x-amzn-errortype": "ResourceNotFoundException"},
                                 json.dumps({"Type": "User", "message": f"Function not found: {self.path}"}).encode())
                    return
                forwarded = urllib.request.Request(f"{endpoint}{self.path}", data=body, method="POST",
                                                   headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                try:
                    with urllib.request.urlopen(forwarded, timeout=900) as answer:
                        self.answer(answer.status, dict(answer.headers), answer.read())
                except urllib.error.HTTPError as error:
                    self.answer(error.code, dict(error.headers), error.read())
                except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                    self.answer(502, {}, json.dumps({"message": f"the function's watcher did not answer: {error}"}).encode())

        super().__init__(Handler, port)
