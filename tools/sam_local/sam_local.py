"""make sam-local: every sample event through its function on the artifacts `sam build` made,
under SAM's own emulator in Docker, each answer checked against tests/expected/.

    python -m tools.sam_local.sam_local            (after `sam build`; make sam-local runs both)

1. Docker must be running; nothing is installed. The base image the functions run on is made
   offline if it is missing (tools/sam_local/sam_image.py), or named with SAM_LOCAL_BASE_IMAGE.
2. A local AWS (moto, with the template's resources) listens on the Docker bridge's own address,
   the one address the containers reach; the sample-event fixtures (the Rust tests'
   `sample_event_fixtures`) and the secrets the events were made with are put there.
3. `sam local invoke <LogicalId> -e <event>`: each function once, with its first sample event,
   as a user types it.
4. `sam local start-lambda --warm-containers EAGER`: every sample event of every function, in the
   order tests/expected/ gives, through the local Lambda endpoint.
5. `sam local start-api`: the HTTP API end to end (functions/sync/tests/test_orders_http.py against it).
6. Clean-up, whatever the outcome (passed, failed, Ctrl-C): SAM is stopped the way it expects
   (an interrupt, with time to remove its warm containers), then every container still there
   that this run started is removed: those whose AWS_ENDPOINT_URL is this run's local AWS (an
   address and port no other run has), never by image name (other SAM projects may share the
   engine). The run fails if any is left.

    python -m tools.sam_local.sam_local --invoke <LogicalId> <event file>    (make sam-invoke FN=... EVENT=...)

runs steps 1-2 and 6 around one `sam local invoke`, SAM's output shown as it comes.

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
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.sam_local import expected as expectations
from tools.shared.aws import free_port, wait_until_listening
from tools.shared.cfn import ROOT, Template
from tools.shared.lambda_api import InvocationFailed, invoke
from tools.sam_local.sam_image import base_image_ready, build_base_image, default_image, docker_error, emulation_error
from tools.local.stack import LOCAL_FEATURES, STATE_DIR, Stack

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
    command = ["cargo", "test", "--locked", *LOCAL_FEATURES, "--tests", "--", "--ignored", "--exact", "sample_event_fixtures"]
    print(f"fixtures: {' '.join(crates)} (cargo test ... sample_event_fixtures)", flush=True)
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


def sam_options(env_vars: Path, endpoint: str, image: str, bridge: str) -> list[str]:
    """What every SAM command of a run takes. The containers' ports are published on the Docker
    bridge's address and SAM reaches them there (--container-host-interface, --container-host),
    not on 127.0.0.1: there Docker's default userland proxy accepts a connection before the
    container listens, SAM takes that for readiness and gives up on an emulated container still
    starting ("No response from invoke container"); on the bridge's address the connection goes
    straight to the container (Docker's DNAT rule), so SAM's own wait works on a default engine."""
    return ["--template", str(BUILT_TEMPLATE), "--env-vars", str(env_vars),
            "--parameter-overrides", f"LocalAwsEndpoint={endpoint}",
            "--container-host", bridge, "--container-host-interface", bridge,
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


def stop_sam(process: subprocess.Popen) -> None:
    """Stops a `sam local start-*` the way it expects: an interrupt (Ctrl-C), after which SAM
    stops and removes its warm containers, given the time emulated containers take; a kill only
    if it does not exit. What SAM leaves behind then is removed by `remove_containers`."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGINT, 60), (signal.SIGTERM, 10), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue


def containers_of_this_run(endpoint: str) -> list[str]:
    """Ids of the containers (running or not) whose environment names this run's local AWS."""
    listed = subprocess.run(["docker", "ps", "--all", "--quiet", "--no-trunc"], capture_output=True, text=True)
    ids = listed.stdout.split()
    if not ids:
        return []
    # A container may go between the listing and this; inspect prints the others.
    inspected = subprocess.run(["docker", "inspect", "--format", "{{.Id}} {{json .Config.Env}}", *ids], capture_output=True, text=True)
    mine = []
    for line in inspected.stdout.splitlines():
        container, _, environment = line.partition(" ")
        if f"AWS_ENDPOINT_URL={endpoint}" in (json.loads(environment or "null") or []):
            mine.append(container)
    return mine


def remove_containers(endpoint: str) -> tuple[int, list[str]]:
    """Removes this run's containers (and their anonymous volumes); (removed, still there)."""
    found = containers_of_this_run(endpoint)
    if found:
        subprocess.run(["docker", "rm", "--force", "--volumes", *found], capture_output=True, text=True)
    return len(found), containers_of_this_run(endpoint)


def engine_objects() -> dict[str, set[str]]:
    """The engine's networks and volumes: what a run must leave as it found them."""
    listed = {}
    for kind in ("network", "volume"):
        out = subprocess.run(["docker", kind, "ls", "--quiet"], capture_output=True, text=True)
        listed[kind] = set(out.stdout.split())
    return listed


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
        stop_sam(process)


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
        stop_sam(process)


class Prepared:
    """What every SAM command of a run is given: its options and environment, and the local AWS."""

    def __init__(self, functions: list[tuple[str, str]], options: list[str], environment: dict[str, str], endpoint: str):
        self.functions = functions
        self.options = options
        self.environment = environment
        self.endpoint = endpoint


@contextmanager
def prepared(template: Template, image: str, architecture: str) -> Iterator[Prepared]:
    """Steps 2 and 6 around the caller's SAM commands: the local AWS on the bridge with the
    fixtures, the --env-vars file; then the local AWS stopped and this run's containers removed."""
    STATE_DIR.mkdir(exist_ok=True)
    functions = functions_with_events(template)
    host = bridge_address()
    stack = Stack(with_functions=False, quiet=True, aws_host=host)
    before = engine_objects()
    endpoint = None
    try:
        environment = stack.start()
        endpoint = stack.moto.endpoint
        print(f"local AWS (moto) at {endpoint} (the Docker bridge's address); base image {image}; "
              f"{architecture} artifacts from .aws-sam/build", flush=True)
        put_fixtures(environment, stack, functions)
        env_vars = STATE_DIR / "sam-local-env.json"
        # SAM's resolver leaves the template's Fn::If on AWS_ENDPOINT_URL unresolved (it still
        # declares the variable, and so lets --env-vars set it): the value comes from here, the
        # parameter override says the same for a SAM that resolves it.
        local = Template.read()
        local.overrides["LocalAwsEndpoint"] = endpoint
        local.sqs_endpoint = endpoint
        env_vars.write_text(json.dumps({logical_id: local.function_environment(logical_id) for logical_id, _ in functions}, indent=2))
        yield Prepared(functions, sam_options(env_vars, endpoint, image, host), {**os.environ, **environment, "SAM_CLI_TELEMETRY": "0"}, endpoint)
    finally:
        stack.stop()
        if endpoint:
            started = time.monotonic()
            removed, left = remove_containers(endpoint)
            after = engine_objects()
            new = {kind: sorted(after[kind] - before[kind]) for kind in after}
            print(f"clean-up: {removed} container{'' if removed == 1 else 's'} of this run removed after SAM stopped "
                  f"({time.monotonic() - started:.1f} s); {len(left)} left", flush=True)
            if any(new.values()):
                # SAM makes none on the default bridge; one may be another project's, so say it only.
                print(f"note: the engine has networks {new['network']} and volumes {new['volume']} it did not have "
                      "before this run", flush=True)
            if left:
                raise SystemExit(f"make sam-local: containers of this run are still on the Docker engine: {' '.join(left)}")


def sam_invoke(prepared_run: Prepared, logical_id: str, event: Path) -> int:
    """One `sam local invoke`, as a SAM user types it, SAM's output shown as it comes."""
    if logical_id not in dict(prepared_run.functions):
        raise SystemExit(f"make sam-invoke: FN={logical_id} is no function of template.yaml "
                         f"(there are {', '.join(f for f, _ in prepared_run.functions)})")
    command = ["sam", "local", "invoke", logical_id, "--event", str(event), *prepared_run.options]
    print("$ " + " ".join(command), flush=True)
    return subprocess.run([str(SAM), *command[1:]], cwd=ROOT, env=prepared_run.environment).returncode


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.sam_local.sam_local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-start-api", action="store_true", help="leave out the start-api requests")
    parser.add_argument("--preflight", action="store_true", help="only check that Docker (and emulation) can run the functions")
    parser.add_argument("--invoke", nargs=2, metavar=("LOGICAL_ID", "EVENT"), help="one sam local invoke of this function with this event file")
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
    if args.invoke and not (ROOT / args.invoke[1]).is_file():
        print(f"make sam-invoke: EVENT={args.invoke[1]} is no file (the samples are in events/<function>/)", file=sys.stderr)
        return 2
    image = os.environ.get("SAM_LOCAL_BASE_IMAGE") or default_image(architecture)
    if not base_image_ready(image):
        if os.environ.get("SAM_LOCAL_BASE_IMAGE"):
            print(f"make sam-local: the image {image} (SAM_LOCAL_BASE_IMAGE) is not in Docker; nothing is pulled", file=sys.stderr)
            return 2
        build_base_image(image, architecture)
    STATE_DIR.mkdir(exist_ok=True)
    LOG.write_text("")
    if args.invoke:
        with prepared(template, image, architecture) as run_with:
            return sam_invoke(run_with, args.invoke[0], Path(args.invoke[1]))
    run = Run()
    with prepared(template, image, architecture) as run_with:
        functions = run_with.functions
        invoke_each_function_once(run, functions, run_with.options, run_with.environment)
        every_event_through_start_lambda(run, functions, run_with.options, run_with.environment)
        # The orders suite is the sync pattern's; a project without it (make starter) has none.
        if not args.skip_start_api and (ROOT / "functions" / "sync" / "tests" / "test_orders_http.py").exists():
            http_api_through_start_api(run, run_with.options, run_with.environment)
    counts = {how: sum(1 for h, _ in run.results if h == how) for how in ("invoke", "start-lambda", "start-api")}
    print(f"{counts['invoke']} sam local invoke, {counts['start-lambda']} invocations through start-lambda, "
          f"{counts['start-api']} start-api suite; {len(functions)} functions, {architecture} artifacts on a {platform.machine()} host; "
          f"{time.monotonic() - run.started:.0f} s; SAM's output in {LOG.relative_to(ROOT)}", flush=True)
    print(f"sam-local: {len(run.results) - run.failed()} passed, {run.failed()} failed", flush=True)
    return 1 if run.failed() else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("make sam-local: interrupted; SAM stopped and this run's containers removed", file=sys.stderr)
        sys.exit(130)
