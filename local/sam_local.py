"""make sam-local: every sample event through its function on the artifacts `sam build` made,
under SAM's own emulator in Docker, each answer checked against tests/expected/.

    python -m local.sam_local            (after `sam build`; make sam-local runs both)

1. Docker must be running; nothing is installed. The base image the functions run on is made
   offline if it is missing (local/sam_image.py), or named with SAM_LOCAL_BASE_IMAGE.
2. A local AWS (moto, with the template's resources) listens on the Docker bridge's own address,
   the one address the containers reach; the sample-event fixtures (the Rust tests'
   `sample_event_fixtures`) and the secrets the events were made with are put there.
3. `sam local invoke <LogicalId> -e <event>`: each function once, with its first sample event,
   as a user types it.
4. `sam local start-lambda --warm-containers EAGER`: every sample event of every function, in the
   order tests/expected/ gives, through the local Lambda endpoint.
5. `sam local start-api`: the HTTP API end to end (functions/sync/tests/test_orders_http.py against it).

The template declares AWS_ENDPOINT_URL only when its LocalAwsEndpoint parameter is set (never in
a deploy); SAM leaves that Fn::If unresolved but declares the variable, so the run sets it, with
the rest of each function's environment, through --env-vars, resolved as the local stack
resolves it. One line per invocation, a summary, and a non-zero exit on any mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from . import expected as expectations
from .aws import free_port, stop, wait_until_listening
from .cfn import ROOT, Template
from .lambda_api import InvocationFailed, invoke
from .sam_image import base_image_ready, build_base_image, default_image, docker_error, emulation_error
from .stack import LOCAL_FEATURES, STATE_DIR, Stack

SAM = Path(sys.executable).parent / "sam"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
LOG = STATE_DIR / "sam-local.log"


class Run:
    def __init__(self) -> None:
        self.results: list[tuple[str, bool]] = []
        self.started = time.monotonic()

    def record(self, how: str, function: str, event: str, problems: list[str], seconds: float, note: str = "") -> None:
        ok = not problems
        self.results.append((how, ok))
        print(f"{'ok  ' if ok else 'FAIL'} {how:<13} {function:<28} {event:<36} {seconds:6.2f} s{note}", flush=True)
        for problem in problems:
            print(f"       {problem}", flush=True)

    def failed(self) -> int:
        return sum(1 for _, ok in self.results if not ok)


def bridge_address() -> str:
    """The gateway address of Docker's default bridge: this machine, as the containers see it."""
    out = subprocess.run(["docker", "network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}"],
                         capture_output=True, text=True, check=True).stdout.strip()
    if not re.fullmatch(r"\d+\.\d+\.\d+\.\d+", out):
        raise SystemExit(f"make sam-local: Docker's bridge network has no IPv4 gateway address ({out!r})")
    return out


def functions_with_events(template: Template) -> list[tuple[str, str]]:
    """(logical id, events folder) for every function; each must have sample events."""
    pairs = []
    for logical_id in sorted(template.functions()):
        binary = template.binary(logical_id)
        if not (expectations.EVENTS / binary).is_dir():
            raise SystemExit(f"{logical_id} ({binary}) has no events/{binary}/")
        pairs.append((logical_id, binary))
    return pairs


def put_fixtures(environment: dict[str, str], stack: Stack, functions: list[tuple[str, str]]) -> None:
    """The state the sample events expect: the Rust tests' `sample_event_fixtures` (run against
    this local AWS) and the secrets the events were made with."""
    crates = sorted(p.parent.parent.name for p in ROOT.glob("functions/*/*/tests/*.rs")
                    if "async fn sample_event_fixtures()" in p.read_text())
    # The whole workspace, as `make test` builds it: the same feature set, so no rebuild.
    command = ["cargo", "test", "--locked", "--workspace", *LOCAL_FEATURES, "--tests", "--", "--ignored", "--exact", "sample_event_fixtures"]
    print(f"fixtures: {' '.join(crates)} (cargo test --workspace ... sample_event_fixtures)", flush=True)
    out = subprocess.run(command, cwd=ROOT, env={**os.environ, **environment}, capture_output=True, text=True)
    if out.returncode != 0 or out.stdout.count("test sample_event_fixtures ... ok") != len(crates):
        sys.stdout.write(out.stdout + out.stderr)
        raise SystemExit("make sam-local: the sample-event fixtures could not be put in place")

    secretsmanager = stack.moto.client("secretsmanager")
    for _, folder in functions:
        for logical_id, value in expectations.secrets(folder).items():
            if stack.template.resources.get(logical_id, {}).get("Type") != "AWS::SecretsManager::Secret":
                raise SystemExit(f"tests/expected/{folder}.json names {logical_id}, which is no secret in template.yaml")
            secretsmanager.put_secret_value(SecretId=logical_id, SecretString=value)


def sam_options(env_vars: Path, endpoint: str, image: str) -> list[str]:
    return ["--template", str(BUILT_TEMPLATE), "--env-vars", str(env_vars),
            "--parameter-overrides", f"LocalAwsEndpoint={endpoint}",
            "--invoke-image", image, "--skip-pull-image"]


def invoke_each_function_once(run: Run, functions: list[tuple[str, str]], options: list[str], environment: dict[str, str]) -> None:
    for logical_id, folder in functions:
        first = expectations.expectations(folder)[0]
        started = time.monotonic()
        try:
            out = subprocess.run([str(SAM), "local", "invoke", logical_id, "-e", str(first.path.relative_to(ROOT)), *options],
                                 cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            run.record("invoke", logical_id, first.event, ["sam local invoke did not finish within 600 s"], time.monotonic() - started)
            continue
        seconds = time.monotonic() - started
        with open(LOG, "a") as log:
            log.write(f"--- sam local invoke {logical_id} -e {first.path.relative_to(ROOT)}\n{out.stderr}\n{out.stdout}\n")
        problems: list[str]
        try:
            answer = json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else None
            problems = expectations.mismatches(first.answer, answer) if out.returncode == 0 else [f"sam exited {out.returncode}"]
        except (ValueError, IndexError):
            problems = [f"no JSON answer on stdout (sam exited {out.returncode}); see {LOG.relative_to(ROOT)}"]
        run.record("invoke", logical_id, first.event, problems, seconds)


def start(command: list[str], environment: dict[str, str], url: str, what: str, timeout: float) -> subprocess.Popen:
    log = open(LOG, "a")
    log.write(f"--- {' '.join(command)}\n")
    log.flush()
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_until_listening(url, process, timeout, what)
    except RuntimeError as error:
        raise SystemExit(f"make sam-local: {error}; see {LOG.relative_to(ROOT)}") from error
    return process


def every_event_through_start_lambda(run: Run, functions: list[tuple[str, str]], options: list[str], environment: dict[str, str]) -> None:
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = start([str(SAM), "local", "start-lambda", "--host", "127.0.0.1", "--port", str(port), "--warm-containers", "EAGER", *options],
                    environment, endpoint, "sam local start-lambda", timeout=900)
    try:
        for logical_id, folder in functions:
            for item in expectations.expectations(folder):
                event = json.loads(item.path.read_text())
                answers = []
                for expected_answer, first in [(item.answer, None)] + ([(item.again, "first")] if item.again else []):
                    started = time.monotonic()
                    try:
                        answer = invoke(endpoint, logical_id, event, timeout=300)
                        problems = expectations.mismatches(expected_answer, answer, answers[0] if first else None)
                    except InvocationFailed as error:
                        answer, problems = None, [str(error)]
                    answers.append(answer)
                    note = " (again)" if first else (f" (under sam local: {item.why})" if item.why else "")
                    run.record("start-lambda", logical_id, item.event, problems, time.monotonic() - started, note)
    finally:
        stop(process)


def http_api_through_start_api(run: Run, options: list[str], environment: dict[str, str]) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    api_log = STATE_DIR / "sam-local-api.log"
    api_log.write_bytes(b"")
    # --disable-authorizer: SAM's emulator emulates Lambda authorizers only (AuthMode's JWT and
    # IAM it skips anyway), and it reads the HTTP API's Auth without resolving its !If (AuthMode).
    process = start([str(SAM), "local", "start-api", "--host", "127.0.0.1", "--port", str(port), "--warm-containers", "EAGER",
                     "--disable-authorizer", "--log-file", str(api_log), *options], environment, url, "sam local start-api", timeout=900)
    try:
        started = time.monotonic()
        out = subprocess.run([str(Path(sys.executable).parent / "pytest"), "-q", "-p", "no:cacheprovider", "functions/sync/tests/test_orders_http.py"],
                             cwd=ROOT, env={**environment, "LOCAL_API_URL": url, "LOCAL_FUNCTION_LOG": str(api_log), "LOCAL_API_EMULATOR": "sam"},
                             capture_output=True, text=True)
        summary = (out.stdout.strip().splitlines() or ["no output"])[-1]
        problems = [] if out.returncode == 0 else [line for line in out.stdout.splitlines() if "FAILED" in line or "Error" in line][:10] or [summary]
        run.record("start-api", "HttpApi", "functions/sync/tests/test_orders_http.py", problems, time.monotonic() - started, f" ({summary})")
    finally:
        stop(process)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m local.sam_local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-start-api", action="store_true", help="leave out the start-api requests")
    parser.add_argument("--preflight", action="store_true", help="only check that Docker (and emulation) can run the functions")
    args = parser.parse_args()

    template = Template.read()
    architecture = template.body["Globals"]["Function"]["Architectures"][0]
    problem = docker_error() or emulation_error(architecture)
    if problem:
        print(f"make sam-local needs a running Docker engine that can run {architecture} containers, and {problem}. "
              f"Nothing was installed or run.", file=sys.stderr)
        return 2
    if args.preflight:
        return 0
    if not BUILT_TEMPLATE.exists():
        print("make sam-local: no .aws-sam/build/template.yaml; run `make build` (sam build) first", file=sys.stderr)
        return 2
    image = os.environ.get("SAM_LOCAL_BASE_IMAGE") or default_image(architecture)
    if not base_image_ready(image):
        if os.environ.get("SAM_LOCAL_BASE_IMAGE"):
            print(f"make sam-local: the image {image} (SAM_LOCAL_BASE_IMAGE) is not in Docker; nothing is pulled", file=sys.stderr)
            return 2
        build_base_image(image, architecture)
    STATE_DIR.mkdir(exist_ok=True)
    LOG.write_text("")
    functions = functions_with_events(template)
    run = Run()
    host = bridge_address()
    stack = Stack(with_functions=False, quiet=True, aws_host=host)
    try:
        environment = stack.start()
        print(f"local AWS (moto) at {stack.moto.endpoint} (the Docker bridge's address); base image {image}; "
              f"{architecture} artifacts from .aws-sam/build", flush=True)
        put_fixtures(environment, stack, functions)
        env_vars = STATE_DIR / "sam-local-env.json"
        # SAM's resolver leaves the template's Fn::If on AWS_ENDPOINT_URL unresolved (it still
        # declares the variable, and so lets --env-vars set it): the value comes from here, the
        # parameter override says the same for a SAM that resolves it.
        local = Template.read()
        local.overrides["LocalAwsEndpoint"] = stack.moto.endpoint
        local.sqs_endpoint = stack.moto.endpoint
        env_vars.write_text(json.dumps({logical_id: local.function_environment(logical_id) for logical_id, _ in functions}, indent=2))
        options = sam_options(env_vars, stack.moto.endpoint, image)
        sam_environment = {**os.environ, **environment, "SAM_CLI_TELEMETRY": "0"}
        invoke_each_function_once(run, functions, options, sam_environment)
        every_event_through_start_lambda(run, functions, options, sam_environment)
        # The orders suite is the sync pattern's; a project without it (make starter) has none.
        if not args.skip_start_api and (ROOT / "functions" / "sync" / "tests" / "test_orders_http.py").exists():
            http_api_through_start_api(run, options, sam_environment)
    finally:
        stack.stop()
    counts = {how: sum(1 for h, _ in run.results if h == how) for how in ("invoke", "start-lambda", "start-api")}
    print(f"{counts['invoke']} sam local invoke, {counts['start-lambda']} invocations through start-lambda, "
          f"{counts['start-api']} start-api suite; {len(functions)} functions, {architecture} artifacts on a {platform.machine()} host; "
          f"{time.monotonic() - run.started:.0f} s; SAM's output in {LOG.relative_to(ROOT)}", flush=True)
    print(f"sam-local: {len(run.results) - run.failed()} passed, {run.failed()} failed", flush=True)
    return 1 if run.failed() else 0


if __name__ == "__main__":
    sys.exit(main())
