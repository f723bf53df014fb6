"""A Lambda Runtime API emulator for cold-start measurements.

It serves the four endpoints a custom runtime uses (`invocation/next`, `invocation/{id}/response`,
`invocation/{id}/error`, `init/error`, API version 2018-06-01) on loopback, one server per
execution environment, and timestamps what matters with one monotonic clock:

- `init`: from just before the process is executed to the moment its first `GET
  invocation/next` arrives, which is how Lambda draws the line between the Init and Invoke phases;
- `first` and `warm`: from handing an event out to receiving its answer, for the first and the
  second invocation of the same process;
- the process's peak resident memory (`VmHWM`) after both invocations.
"""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

API = "/2018-06-01"
ACCOUNT = "123456789012"


@dataclass
class Answer:
    kind: str  # "response", "error" or "init-error"
    body: bytes
    at_ns: int


@dataclass
class ColdStart:
    init_ms: float
    first_ms: float
    warm_ms: float
    peak_rss_kib: int
    first_answer: bytes


class RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a killed environment drops its connection mid-request: expected, not news

    def __init__(self, function_name: str, timeout_s: int):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.function_name = function_name
        self.timeout_s = timeout_s
        self.first_next_ns: int | None = None
        self.next_arrived = threading.Event()
        self.events: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self.answers: queue.Queue[Answer] = queue.Queue()
        self.handed_out_ns: dict[str, int] = {}

    @property
    def address(self) -> str:
        host, port = self.server_address[:2]
        return f"{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the runtime clients expect
    server: RuntimeApiServer

    def log_message(self, *_: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path != f"{API}/runtime/invocation/next":
            return self._reply(404, b'{"errorType":"NotFound"}')
        if self.server.first_next_ns is None:
            self.server.first_next_ns = time.perf_counter_ns()
            self.server.next_arrived.set()
        item = self.server.events.get()
        if item is None:  # the environment is being shut down
            return self._reply(500, b'{"errorType":"ShuttingDown"}')
        request_id, payload = item
        deadline_ms = int(time.time() * 1000) + self.server.timeout_s * 1000
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{self.server.function_name}",
            "Lambda-Runtime-Trace-Id": f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0",
        }
        self.server.handed_out_ns[request_id] = time.perf_counter_ns()
        self._reply(200, payload, headers)

    def do_POST(self) -> None:  # noqa: N802
        at_ns = time.perf_counter_ns()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = self.path.removeprefix(f"{API}/runtime/").split("/")
        if parts == ["init", "error"]:
            self.server.answers.put(Answer("init-error", body, at_ns))
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.server.answers.put(Answer(parts[2], body, at_ns))
        else:
            return self._reply(404, b'{"errorType":"NotFound"}')
        self._reply(202, b'{"status":"OK"}')

    def _reply(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def lambda_environment(function_name: str, runtime_api: str, memory_mb: int) -> dict[str, str]:
    """The variables Lambda sets in every execution environment (without the credentials and the
    region, which the caller gives with the local AWS endpoint)."""
    return {
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"2026/11/26/[$LATEST]{uuid.uuid4().hex}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": "AWS_Lambda_provided.al2023",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
    }


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmHWM for process {pid}")


def cold_start(
    argv: list[str],
    environment: dict[str, str],
    event: bytes,
    function_name: str,
    cwd: Path | None = None,
    log: Path | None = None,
    memory_mb: int = 128,
    timeout_s: int = 30,
) -> ColdStart:
    """Starts one execution environment, invokes it twice with `event`, measures, and kills it."""
    server = RuntimeApiServer(function_name, timeout_s)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {**environment, **lambda_environment(function_name, server.address, memory_mb)}
    output = open(log, "ab") if log else subprocess.DEVNULL
    process = None
    try:
        started_ns = time.perf_counter_ns()
        process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=output, stderr=output)
        if not server.next_arrived.wait(timeout_s):
            raise RuntimeError(f"{function_name}: no invocation/next within {timeout_s} s (exit {process.poll()})")
        assert server.first_next_ns is not None
        init_ms = (server.first_next_ns - started_ns) / 1e6

        round_trips = []
        answers = []
        for _ in range(2):
            request_id = str(uuid.uuid4())
            server.events.put((request_id, event))
            try:
                answer = server.answers.get(timeout=timeout_s)
            except queue.Empty:
                raise RuntimeError(f"{function_name}: no answer within {timeout_s} s") from None
            if answer.kind != "response":
                raise RuntimeError(f"{function_name}: {answer.kind}: {answer.body[:500]!r}")
            round_trips.append((answer.at_ns - server.handed_out_ns[request_id]) / 1e6)
            answers.append(answer.body)
        rss = peak_rss_kib(process.pid)
        return ColdStart(init_ms, round_trips[0], round_trips[1], rss, answers[0])
    finally:
        if process is not None:
            process.kill()
            process.wait()
        server.events.put(None)
        server.shutdown()
        server.server_close()
        if output is not subprocess.DEVNULL:
            output.close()


def answer_status(answer: bytes) -> str:
    """A short, checkable summary of an answer: the HTTP status or the batch failure count."""
    try:
        value = json.loads(answer)
    except ValueError:
        return "not JSON"
    if isinstance(value, dict) and "statusCode" in value:
        return str(value["statusCode"])
    if isinstance(value, dict) and "batchItemFailures" in value:
        return f"{len(value['batchItemFailures'])} failed"
    return "ok"

