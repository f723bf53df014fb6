"""Start, use and stop the local stack, all derived from template.yaml.

    python -m tools.local.stack up [--detach]        moto + tables + functions + HTTP API gateway
    python -m tools.local.stack down                 stop a detached stack
    python -m tools.local.stack run [--functions] -- COMMAND...
                                               the same for the length of COMMAND (tests, demo),
                                               stopped afterwards whatever COMMAND's outcome

COMMAND gets the SDK settings for moto (AWS_ENDPOINT_URL, AWS_REGION, ...), every function's
environment from the template (ORDERS_TABLE, ...), and with --functions LOCAL_API_URL (the
gateway) and LOCAL_INVOKE_URL (cargo-lambda's Lambda Invoke API).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools.shared.aws import BIN, Moto, create_resources, free_port, stop
from tools.shared.cfn import ROOT, Template
from tools.local.gateway import Gateway, unsigned_caller_from_env
from tools.shared.lambda_api import FunctionError, InvocationFailed, InvokeRouter, invoke
from tools.shared.aws import subscribe

if TYPE_CHECKING:
    from tools.local.poller import SnsLambdaPoller, SqsPoller, StreamPoller
    from tools.local.ws_gateway import WebSocketGateway

STATE_DIR = ROOT / ".local"
# Switches for make load, off unless set in the caller's environment: a share of SQS records
# failing their first delivery (in the functions, lambda_kit::faults), and a share of SQS
# batches whose invocation the local poller drops as if the function died (tools/local/poller.py).
FAULT_SWITCHES = ("LOCAL_FAULT_TRANSIENT_RATE", "LOCAL_POLLER_DROP_EVERY")
STATE_FILE = STATE_DIR / "stack.json"
LOG_FILE = STATE_DIR / "stack.log"
# The local-only switches (fault injection, loopback callbacks) are compiled in for the local
# stack only; the Makefile's LOCAL_FEATURES says the same for cargo test.
LOCAL_FEATURES = ("--features", "lambda-kit/local")


def running_secret(secret_id: str) -> bytes | None:
    """The value of a Secrets Manager secret of the running local stack (`make up`), or None when
    no stack runs: for the tools a developer uses beside it (tokens, a webhook receiver)."""
    import boto3  # noqa: PLC0415 (the stack itself does not need it at import)

    from tools.shared.cfn import REGION  # noqa: PLC0415

    if not STATE_FILE.exists():
        return None
    endpoint = json.loads(STATE_FILE.read_text())["AWS_ENDPOINT_URL"]
    secrets = boto3.client("secretsmanager", endpoint_url=endpoint, region_name=REGION,
                           aws_access_key_id="local", aws_secret_access_key="local")
    return secrets.get_secret_value(SecretId=secret_id)["SecretString"].encode()


def function_environments(template: Template) -> dict[str, dict[str, str]]:
    """Each function's own environment, by binary, as the template gives it (see
    Template.function_environment), with the log format Lambda's logging config sets."""
    environments = {}
    for logical_id in template.functions():
        environment = template.function_environment(logical_id)
        if template.log_format():
            environment["AWS_LAMBDA_LOG_FORMAT"] = template.log_format()
        environments[template.binary(logical_id)] = environment
    return environments


def command_environment(environments: dict[str, dict[str, str]]) -> dict[str, str]:
    """What COMMAND (the tests, the demo) gets of the functions' environments: every variable
    that has one value wherever it is set (ORDERS_TABLE, ...). A name two functions give
    different values is left out: it names no one thing."""
    values: dict[str, set[str]] = {}
    for environment in environments.values():
        for name, value in environment.items():
            values.setdefault(name, set()).add(value)
    return {name: next(iter(found)) for name, found in values.items() if len(found) == 1}


class Functions:
    """Each function under its own `cargo lambda watch`, with its own environment (cargo-lambda
    takes one environment per process), behind one Lambda Invoke API (lambda_api.InvokeRouter)
    on `port`. Every watcher shares the workspace's target dir: a function is built once, on its
    first invocation.

    With `reload` (make up) each watcher does what `cargo lambda watch` does for a developer: a
    saved change to the workspace's sources stops the running function, and the next invocation
    rebuilds and starts it again, the stack staying up. Test and demo runs pass reload=False
    (`--ignore-changes`): an edit made while they run must not swap a function under them."""

    def __init__(self, environments: dict[str, dict[str, str]], log_path: Path, port: int | None = None, reload: bool = False):
        self.port = port or free_port()
        self.reload = reload
        self.environments = environments
        self.log_path = log_path
        self.processes: dict[str, subprocess.Popen] = {}
        self.router: InvokeRouter | None = None

    @property
    def invoke_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "Functions":
        endpoints = {}
        taken = {self.port}
        for binary, environment in sorted(self.environments.items()):
            env_file = STATE_DIR / f"{binary}.env"
            env_file.write_text("".join(f"{name}={value}\n" for name, value in environment.items()))
            # A port free now is not reserved: two watchers must not be given the same one.
            port = free_port()
            while port in taken:
                port = free_port()
            taken.add(port)
            endpoints[binary] = f"http://127.0.0.1:{port}"
            self.processes[binary] = subprocess.Popen(
                [str(BIN / "cargo-lambda"), "lambda", "watch", *([] if self.reload else ["--ignore-changes"]), "--quiet", *LOCAL_FEATURES,
                 "--invoke-address", "127.0.0.1", "--invoke-port", str(port), "--env-file", str(env_file)],
                cwd=ROOT,
                stdout=open(self.log_path, "ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.router = InvokeRouter(endpoints, self.port).start()
        return self

    HTTP_WARM_UP = {"version": "2.0", "routeKey": "$default", "rawPath": "/__warm-up", "headers": {},
                    "requestContext": {"http": {"method": "GET", "path": "/__warm-up"}, "stage": "$default"},
                    "isBase64Encoded": False}
    SQS_WARM_UP = {"Records": []}

    def warm_up(self, binary: str, event: dict, timeout: float = 900) -> None:
        """Waits until `binary` is built and answers, so the first real request is not the build."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.processes.get(binary)
            if process is None or process.poll() is not None:
                code = None if process is None else process.returncode
                raise RuntimeError(f"cargo lambda watch of {binary} is not running (exit {code}); see {self.log_path}")
            try:
                invoke(self.invoke_endpoint, binary, event, timeout=timeout)
                return
            except FunctionError:
                return  # it ran: an event it refuses (a Lambda target's empty warm-up) still starts it
            except InvocationFailed:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"{binary} did not answer within {timeout:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        if self.router:
            self.router.stop()
        for process in self.processes.values():
            stop(process)


def parameter_overrides(text: str) -> dict[str, str]:
    """`Key=Value Key=Value` (SAM's --parameter-overrides form) as a dict."""
    overrides = {}
    for pair in shlex.split(text):
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise SystemExit(f"LOCAL_PARAMETER_OVERRIDES: {pair!r} is not Key=Value")
        overrides[name] = value
    return overrides


class Stack:
    def __init__(self, with_functions: bool, gateway_port: int | None = None, invoke_port: int | None = None, quiet: bool = False,
                 websocket_port: int | None = None, aws_host: str = "127.0.0.1", reload: bool = False):
        # The template's parameters as a deploy would set them (`sam deploy --parameter-overrides`
        # syntax), e.g. LOCAL_PARAMETER_OVERRIDES="AuthMode=JWT JwtIssuer=https://... JwtAudience=app".
        self.template = Template(Template.read().body, parameter_overrides(os.environ.get("LOCAL_PARAMETER_OVERRIDES", "")))
        self.with_functions = with_functions
        self.reload = reload
        self.gateway_port = gateway_port
        self.invoke_port = invoke_port
        self.websocket_port = websocket_port
        self.quiet = quiet
        self.aws_host = aws_host
        self.moto: Moto | None = None
        self.functions: Functions | None = None
        self.gateway: Gateway | None = None
        self.websocket: WebSocketGateway | None = None
        self.pollers: list[Any] = []

    def say(self, message: str) -> None:
        if not self.quiet:
            print(message, flush=True)

    def start(self) -> dict[str, str]:
        STATE_DIR.mkdir(exist_ok=True)
        LOG_FILE.write_bytes(b"")  # one stack, one log
        self.moto = Moto(LOG_FILE, self.aws_host).start()
        self.template.sqs_endpoint = self.moto.endpoint
        self.say(f"local AWS (moto) at {self.moto.endpoint}")
        for made in create_resources(self.template, self.moto):
            self.say(f"  created {made}")
        # What every function gets besides its own environment: the local AWS, and the switches below.
        environment = self.moto.client_environment()
        # Fault injection (make load) is passed through from the caller; template.yaml never sets it.
        # The tests' webhook receivers listen on 127.0.0.1 over http: allowed locally only (the
        # functions honour it only with a loopback AWS_ENDPOINT_URL; template.yaml never sets it).
        environment["LOCAL_WEBHOOKS_ALLOW_LOOPBACK"] = "true"
        for name in FAULT_SWITCHES:
            if os.environ.get(name):
                environment[name] = os.environ[name]
                self.say(f"fault injection: {name}={os.environ[name]}")
        websocket = self._websocket_api() if self.with_functions else None
        if websocket:
            from tools.local.ws_gateway import WebSocketGateway, local_endpoints  # noqa: PLC0415

            # Ports first: the functions' environment names the local Management API.
            self.websocket = WebSocketGateway(websocket, "", port=self.websocket_port, log=self._log)
        environments = {binary: {**environment, **own} for binary, own in function_environments(self.template).items()}
        if websocket:
            environments = {binary: local_endpoints(own, websocket, self.websocket) for binary, own in environments.items()}
        environment = {**environment, **command_environment(environments)}
        # Each HTTP function's routes in the template (route keys by binary): the tests check that
        # the function's own route table holds the same.
        routes_of: dict[str, list[str]] = {}
        for route in self.template.http_routes():
            routes_of.setdefault(route.binary, []).append(route.route_key)
        environment["LOCAL_HTTP_ROUTES"] = json.dumps(routes_of, sort_keys=True)
        if self.with_functions:
            self.functions = Functions(environments, LOG_FILE, self.invoke_port, reload=self.reload).start()
            routes = self.template.http_routes()
            warm_ups = {route.binary: Functions.HTTP_WARM_UP for route in routes}
            warm_ups.update({mapping.binary: Functions.SQS_WARM_UP for mapping in self.template.sqs_mappings()})
            for mapping in self.template.event_source_mappings("AWS::DynamoDB::Table"):
                warm_ups[mapping.binary] = Functions.SQS_WARM_UP
            for function, _, _ in self.template.lambda_subscriptions():
                warm_ups[self.template.binary(function)] = Functions.SQS_WARM_UP
            if websocket:
                # An event without a connection id: the function answers 400 and has started.
                warm_ups.update({route["binary"]: {"requestContext": {}} for route in websocket["routes"].values()})
            for rule in self.template.event_rules():
                for target in rule.targets:
                    if target.function:
                        # An empty payload: refused (an error answer), and the function has started.
                        warm_ups[self.template.binary(target.function)] = {}
            for binary, event in sorted(warm_ups.items()):
                self.say(f"building and starting {binary} under cargo lambda watch (the first build takes minutes) ...")
                self.functions.warm_up(binary, event)
            unsigned_caller = unsigned_caller_from_env()
            self.gateway = Gateway(routes, self.functions.invoke_endpoint, self.gateway_port or free_port(), log=self._log,
                                   unsigned_caller=unsigned_caller).start()
            environment["LOCAL_INVOKE_URL"] = self.functions.invoke_endpoint
            environment["LOCAL_API_URL"] = self.gateway.url
            self.say(f"functions (Lambda Invoke API) at {self.functions.invoke_endpoint}")
            self.say(f"HTTP API at {self.gateway.url}")
            for route in routes:
                self.say(f"  {route.route_key:<24} -> {route.function} ({route.binary})")
            if unsigned_caller and any(route.auth.kind == "AWS_IAM" for route in routes):
                self.say(f"  unsigned requests act as {unsigned_caller} (a deployed API answers them 403; "
                         "LOCAL_UNSIGNED_CALLER= refuses them here too)")
            if websocket and self.websocket:
                self.websocket.invoke_endpoint = self.functions.invoke_endpoint
                self.websocket.start()
                environment["LOCAL_WS_URL"] = self.websocket.url
                self.say(f"WebSocket API at {self.websocket.url} (Management API at {self.websocket.management_endpoint})")
                for route_key, route in sorted(websocket["routes"].items()):
                    self.say(f"  {route_key:<24} -> {route['binary']}")
            sqs_mappings = self.template.sqs_mappings()
            stream_mappings = self.template.event_source_mappings("AWS::DynamoDB::Table")
            subscriptions = self.template.lambda_subscriptions()
            if sqs_mappings or stream_mappings or subscriptions:
                # Lambda's pollers (tools/local/poller.py): a project without event sources has none.
                from tools.local.poller import SnsLambdaPoller, SqsPoller, StreamPoller  # noqa: PLC0415
            for mapping in sqs_mappings:
                poller = SqsPoller(mapping, self.moto.client("sqs"), self.functions.invoke_endpoint, log=self._log).start()
                self.pollers.append(poller)
                self.say(f"  SQS {mapping.queue} (batches of {mapping.batch_size}) -> {mapping.function} ({mapping.binary})")
            for mapping in stream_mappings:
                poller = StreamPoller(mapping.function, mapping.binary, mapping.source, mapping.properties, self.moto.client("dynamodb"),
                                      self.moto.client("dynamodbstreams"), self.moto.client("sqs"), self.functions.invoke_endpoint, log=self._log)
                self.pollers.append(poller.start())
                self.say(f"  DynamoDB stream of {mapping.source} -> {mapping.function} ({mapping.binary})")
            rules = self.template.event_rules()
            if rules:
                from tools.local.eventbridge import EventTargetPoller  # noqa: PLC0415
            for rule in rules:
                for target in rule.targets:
                    binary = self.template.binary(target.function) if target.function else None
                    config = self.template.event_invoke_config(target.function) if target.function else None
                    poller = EventTargetPoller(rule, target, self.moto.client("sqs"), self.functions.invoke_endpoint, binary, config,
                                               log=self._log)
                    self.pollers.append(poller.start())
                    where = f"{target.function} ({binary})" if target.function else target.properties["Arn"].rsplit(":", 1)[-1]
                    self.say(f"  EventBridge {rule.bus} rule {rule.name} -> {where}")
            for function, name, properties in subscriptions:
                tap = f"{name}-tap"
                self.moto.client("sqs").create_queue(QueueName=tap)
                subscription = subscribe(self.moto.client("sns"), properties["TopicArn"], "sqs", self.template.arn_of_queue(tap), properties)
                poller = SnsLambdaPoller(function, self.template.binary(function), tap, subscription, self.template.event_invoke_config(function),
                                         self.moto.client("sqs"), self.functions.invoke_endpoint, log=self._log)
                self.pollers.append(poller.start())
                self.say(f"  SNS {properties['TopicArn'].rsplit(':', 1)[-1]} (filtered) -> {function} ({self.template.binary(function)})")
        return environment

    def _websocket_api(self) -> dict[str, Any] | None:
        """The template's WebSocket API, as the local gateway (tools/local/ws_gateway.py) serves it;
        None without one (and a project without one has no gateway module either)."""
        apis = self.template.of_type("AWS::ApiGatewayV2::Api").values()
        if not any(api["Properties"].get("ProtocolType") == "WEBSOCKET" for api in apis):
            return None
        from tools.local.ws_gateway import websocket_api  # noqa: PLC0415

        return websocket_api(self.template)

    def _log(self, message: str) -> None:
        with open(LOG_FILE, "a", encoding="utf-8") as log:
            log.write(message + "\n")

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()
        if self.gateway:
            self.gateway.stop()
        if self.websocket:
            self.websocket.stop()
        if self.functions:
            self.functions.stop()
        if self.moto:
            self.moto.stop()


def run(args: argparse.Namespace) -> int:
    stack = Stack(with_functions=args.functions, quiet=True)
    try:
        environment = stack.start()
        return subprocess.call(args.command, env={**os.environ, **environment}, cwd=ROOT)
    finally:
        stack.stop()


def up(args: argparse.Namespace) -> int:
    if args.detach:
        return detach(args)
    stack = Stack(with_functions=True, gateway_port=args.port, invoke_port=args.invoke_port, websocket_port=args.ws_port, reload=True)
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    try:
        environment = stack.start()
        STATE_FILE.write_text(json.dumps({"pid": os.getpid(), **environment}, indent=2))
        stack.say(f"ready; logs in {LOG_FILE.relative_to(ROOT)}; a saved edit is rebuilt on the next request; "
                  "stop with Ctrl-C or `make down`")
        stopped.wait()
    finally:
        stack.stop()
        STATE_FILE.unlink(missing_ok=True)
    return 0


def detach(args: argparse.Namespace) -> int:
    """Starts `up` in its own session and returns once it is ready."""
    STATE_DIR.mkdir(exist_ok=True)
    STATE_FILE.unlink(missing_ok=True)
    out = open(STATE_DIR / "up.out", "wb")
    command = [sys.executable, "-m", "tools.local.stack", "up"]
    command += ["--port", str(args.port)] if args.port else []
    command += ["--invoke-port", str(args.invoke_port)] if args.invoke_port else []
    command += ["--ws-port", str(args.ws_port)] if args.ws_port else []
    process = subprocess.Popen(command, cwd=ROOT, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    while not STATE_FILE.exists():
        if process.poll() is not None:
            sys.stdout.write((STATE_DIR / "up.out").read_text())
            return 1
        time.sleep(0.5)
    sys.stdout.write((STATE_DIR / "up.out").read_text())
    return 0


def down(_: argparse.Namespace) -> int:
    if not STATE_FILE.exists():
        print("no local stack is running")
        return 0
    pid = json.loads(STATE_FILE.read_text())["pid"]
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        STATE_FILE.unlink(missing_ok=True)
        return 0
    for _ in range(100):
        if not STATE_FILE.exists():
            break
        time.sleep(0.1)
    print("local stack stopped")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.local.stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="action", required=True)
    up_parser = commands.add_parser("up", help="start everything and keep it running")
    up_parser.add_argument("--detach", action="store_true", help="run in the background; stop with `down`")
    up_parser.add_argument("--port", type=int, default=None, help="port of the HTTP API (default: a free one)")
    up_parser.add_argument("--invoke-port", type=int, default=None, help="port of the Lambda Invoke API (default: a free one)")
    up_parser.add_argument("--ws-port", type=int, default=None, help="port of the WebSocket API (default: a free one)")
    up_parser.set_defaults(handler=up)
    commands.add_parser("down", help="stop a detached stack").set_defaults(handler=down)
    run_parser = commands.add_parser("run", help="run a command against the local stack")
    run_parser.add_argument("--functions", action="store_true", help="also serve the functions and the HTTP API")
    run_parser.add_argument("command", nargs=argparse.REMAINDER)
    run_parser.set_defaults(handler=run)
    args = parser.parse_args()
    if args.action == "run":
        args.command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not args.command:
            parser.error("run needs a command after --")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
