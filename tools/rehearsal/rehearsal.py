"""make deploy-rehearsal: the root template, as `sam build` left it, packaged, deployed, checked
and deleted by SAM CLI against a CloudFormation on loopback, offline.

    python -m tools.rehearsal.rehearsal            (after `sam build`: make deploy-rehearsal does both)

1. moto on 127.0.0.1, with the CloudFormation of tools/rehearsal/moto_cloudformation.py (the template's
   transforms, and the resource types moto lacks created in its own backends). SAM CLI reaches
   it through AWS_ENDPOINT_URL=http://localhost:PORT (with 127.0.0.1 moto misreads the S3 URLs
   of the packaged template).
2. `sam package` (the functions' zips to an S3 bucket) and `sam deploy` of the built template,
   unchanged, with the default parameters: the API is closed (AuthMode IAM), and an anonymous
   request gets 403 from every route. Then `sam deploy` with AuthMode NONE, named (an update).
3. What was deployed is read back through the SDK, not from the template: the stack's outputs
   and resources, each function's configuration (its environment holds the deployed tables'
   and queues' names), the HTTP API's routes and integrations, the event source mappings. The
   functions then run under cargo-lambda with those environments, behind the local gateway
   serving the deployed routes, with the local SQS pollers on the deployed mappings; and the
   local tests' first checks run against them (black_box).
4. `sam deploy` again with AuthMode JWT (a changed parameter: an update): every deployed
   route then takes tokens of the given issuer and audience; with
   JWT, the functions run again behind the deployed routes (the local gateway's stand-in
   authorizer with the deployed issuer and audience) and the checks that need a caller run.
5. `sam delete`: the stack and its resources are gone, but for its data (tables, key, secrets),
   which DataRetention Retain, the default, keeps.

What this cannot show: anything IAM decides (moto does not enforce policies), KMS encryption,
the functions' arm64 build running (cargo-lambda builds them for this machine), API Gateway
serving requests (the local gateway does), alarms firing, and the quotas and timings of a real
account. See tools/rehearsal/moto_cloudformation.py for where its CloudFormation differs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tools.shared.aws import Moto, free_port
from tools.shared.cfn import REGION, ROOT, HttpRoute, RouteAuth, SqsMapping, Template, load
from tools.local.gateway import Gateway, unsigned_token
from tools.shared.lambda_api import invoke
from tools.rehearsal.oidc import LoopbackIssuer  # starter: with realtime
from tools.local.stack import STATE_DIR, Functions

STACK_NAME = "serverless-patterns-rehearsal"
BUCKET = "rehearsal-artifacts"
BUILT_TEMPLATE = ROOT / ".aws-sam" / "build" / "template.yaml"
WORK_DIR = STATE_DIR / "rehearsal"
LOG = WORK_DIR / "rehearsal.log"
SAM = Path(sys.executable).parent / "sam"


def say(message: str) -> None:
    print(f"[rehearsal] {message}", flush=True)


def log_line(message: str) -> None:
    with open(LOG, "a", encoding="utf-8") as log:
        log.write(message + "\n")


class Deployment:
    """A stack in the local CloudFormation, read through the SDK."""

    def __init__(self, moto: Moto, endpoint: str):
        self.moto = moto
        self.endpoint = endpoint
        self.environment = {**moto.client_environment(), "AWS_ENDPOINT_URL": endpoint}

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="local", aws_secret_access_key="local")

    def sam(self, *arguments: str) -> float:
        """Runs SAM CLI against the local CloudFormation; returns how long it took."""
        started = time.monotonic()
        command = [str(SAM), *arguments]
        say("$ " + " ".join(command))
        with open(LOG, "ab") as log:
            result = subprocess.run(command, cwd=ROOT, env={**os.environ, **self.environment, "SAM_CLI_TELEMETRY": "0"},
                                    stdout=log, stderr=subprocess.STDOUT, timeout=900)
        if result.returncode != 0:
            raise SystemExit(f"{' '.join(command[:2])} failed (exit {result.returncode}); see {LOG}")
        return time.monotonic() - started

    def deploy(self, packaged: Path, **parameters: str) -> float:
        overrides = [f"{name}={value}" for name, value in parameters.items()]
        return self.sam("deploy", "--template-file", str(packaged), "--stack-name", STACK_NAME, "--region", REGION,
                        "--s3-bucket", BUCKET, "--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND",
                        "--no-confirm-changeset", "--no-fail-on-empty-changeset", "--no-progressbar",
                        *(["--parameter-overrides", *overrides] if overrides else []))

    def stack(self) -> dict[str, Any]:
        return self.client("cloudformation").describe_stacks(StackName=STACK_NAME)["Stacks"][0]

    def resources(self) -> dict[str, dict[str, Any]]:
        """The stack's resources by logical id."""
        found = self.client("cloudformation").describe_stack_resources(StackName=STACK_NAME)["StackResources"]
        return {resource["LogicalResourceId"]: resource for resource in found}

    def functions(self, template: Template) -> dict[str, tuple[str, dict[str, str]]]:
        """Each deployed function: physical name -> (its binary, its deployed environment)."""
        lambda_ = self.client("lambda")
        functions = {}
        for logical_id, resource in self.resources().items():
            if resource["ResourceType"] != "AWS::Lambda::Function":
                continue
            configuration = lambda_.get_function_configuration(FunctionName=resource["PhysicalResourceId"])
            variables = configuration.get("Environment", {}).get("Variables", {})
            functions[configuration["FunctionName"]] = (template.binary(logical_id), variables)
        return functions

    def http_routes(self, binaries: dict[str, str]) -> list[HttpRoute]:
        """The deployed HTTP API's routes, each to the function its integration invokes."""
        api_id = self.resources()["HttpApi"]["PhysicalResourceId"]
        gateway = self.client("apigatewayv2")
        routes = []
        for route in gateway.get_routes(ApiId=api_id)["Items"]:
            integration = gateway.get_integration(ApiId=api_id, IntegrationId=route["Target"].split("/", 1)[1])
            function = integration["IntegrationUri"].split(":function:", 1)[1].split("/", 1)[0]
            method, _, path = route["RouteKey"].partition(" ")
            kind = route.get("AuthorizationType") or "NONE"
            auth = RouteAuth(kind)
            if kind == "JWT":
                jwt = gateway.get_authorizer(ApiId=api_id, AuthorizerId=route["AuthorizerId"])["JwtConfiguration"]
                auth = RouteAuth("JWT", jwt["Issuer"], tuple(jwt.get("Audience", [])))
            routes.append(HttpRoute(method=method, path=path, function=function, binary=binaries[function], auth=auth))
        return routes

    def sqs_mappings(self, binaries: dict[str, str]) -> list[SqsMapping]:
        mappings = []
        for mapping in self.client("lambda").list_event_source_mappings()["EventSourceMappings"]:
            if ":sqs:" not in mapping["EventSourceArn"]:
                continue
            function = mapping["FunctionArn"].rsplit(":function:", 1)[1].split(":", 1)[0]
            mappings.append(SqsMapping(function=function, binary=binaries[function],
                                       queue=mapping["EventSourceArn"].rsplit(":", 1)[1], batch_size=int(mapping["BatchSize"]),
                                       report_batch_item_failures="ReportBatchItemFailures" in mapping.get("FunctionResponseTypes", [])))
        return mappings

    def route_auth(self) -> dict[str, tuple[str, dict[str, Any] | None]]:
        """Each deployed HTTP route's authorization type and its JWT configuration, if any."""
        api_id = self.resources()["HttpApi"]["PhysicalResourceId"]
        gateway = self.client("apigatewayv2")
        auth = {}
        for route in gateway.get_routes(ApiId=api_id)["Items"]:
            authorizer = route.get("AuthorizerId")
            configuration = gateway.get_authorizer(ApiId=api_id, AuthorizerId=authorizer).get("JwtConfiguration") if authorizer else None
            auth[route["RouteKey"]] = (route.get("AuthorizationType", "NONE"), configuration)
        return auth


def request(url: str, method: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(call, timeout=60) as answer:
            return answer.status, {k.lower(): v for k, v in answer.headers.items()}, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, json.loads(error.read() or b"null")


def check(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"rehearsal check failed: {what}")
    say(f"ok: {what}")


def closed_to_anonymous(api: str, routes: list[HttpRoute]) -> None:
    """With the default parameters (AuthMode IAM): a request without a SigV4 signature gets 403
    from every route, and a signed one reaches the function (the local gateway checks the
    signature's form only: moto enforces no IAM)."""
    concrete = [route for route in routes if route.method != "ANY" and route.path]
    check(bool(concrete), f"the API has routes to call ({[route.route_key for route in routes]})")
    signed = {"authorization": "AWS4-HMAC-SHA256 Credential=AKIDREHEARSAL/20261207/us-east-1/execute-api/aws4_request, "
                               "SignedHeaders=host, Signature=0"}
    for route in concrete:
        url = api + re.sub(r"\{[^}]+\}", "0195f3a4-7c1e-7b2a-9d4e-5f6a7b8c9d01", route.path)
        body = {} if route.method in ("POST", "PUT", "PATCH") else None
        status, _, _ = request(url, route.method, body)
        check(status == 403, f"the default AuthMode, IAM: an anonymous {route.route_key} answers 403 (got {status})")
        status, _, _ = request(url, route.method, body, signed)
        check(status not in (401, 403), f"the default AuthMode, IAM: a signed {route.route_key} reaches its function (got {status})")
    say(f"the default stack answers 403 to anonymous requests on {', '.join(route.route_key for route in concrete)}")


def black_box(api: str, routes: list[HttpRoute]) -> None:
    """The local tests' first checks, against what was deployed."""
    keys = {route.route_key for route in routes}
    # starter: with sync
    if "POST /orders" in keys:
        order = {"customer_id": "c-rehearsal", "currency": "EUR", "items": [{"sku": "R-1", "quantity": 2, "unit_price": 500}]}
        status, headers, created = request(f"{api}/orders", "POST", order)
        check(status == 201 and created["total"] == 1200, f"POST /orders answers 201 with the priced order (got {status})")
        status, _, read = request(api + headers["location"], "GET")
        check(status == 200 and read == created, "GET of its Location reads the same order back")
    # starter: end
    # starter: with async
    if "POST /jobs" in keys:
        status, _, job = request(f"{api}/jobs", "POST", {"type": "report", "input": {"seconds": 0}})
        check(status == 202 and job["status"] == "QUEUED", f"POST /jobs answers 202 QUEUED (got {status})")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            _, _, polled = request(f"{api}/jobs/{job['id']}", "GET")
            if polled["status"] in ("SUCCEEDED", "FAILED"):
                break
            time.sleep(0.5)
        check(polled["status"] == "SUCCEEDED", f"the job ran to SUCCEEDED through the deployed queue (got {polled['status']})")
    # starter: end


# starter: with sync
def callers_apart(api: str, routes: list[HttpRoute]) -> None:
    """With AuthMode JWT: no token, no order; a caller orders for the customer its token names
    (JwtCustomerClaim, `sub` here) and no other; two callers with the same Idempotency-Key each
    get their own order, a retry its own caller's, and neither reads the other's."""
    (auth,) = {route.auth for route in routes if route.route_key == "POST /orders"}

    def order_for(customer: str) -> dict:
        return {"customer_id": customer, "currency": "EUR", "items": [{"sku": "R-1", "quantity": 1, "unit_price": 500}]}

    status, _, _ = request(f"{api}/orders", "POST", order_for("alice"))
    check(status == 401, f"AuthMode JWT: POST /orders without a token answers 401 (got {status})")
    key = f"rehearsal-{time.time_ns()}"

    def token(subject: str) -> dict[str, str]:
        claims = {"iss": auth.issuer, "aud": auth.audience[0], "sub": subject, "exp": int(time.time()) + 300}
        return {"authorization": f"Bearer {unsigned_token(claims)}"}

    def as_caller(subject: str, customer: str | None = None) -> tuple[int, dict[str, str], Any]:
        return request(f"{api}/orders", "POST", order_for(customer or subject), {**token(subject), "idempotency-key": key})

    (a_status, _, alice), (b_status, _, bob), (_, again_headers, again) = as_caller("alice"), as_caller("bob"), as_caller("alice")
    check(a_status == b_status == 201 and alice["id"] != bob["id"],
          f"AuthMode JWT: two callers with the same Idempotency-Key each get their own order ({a_status}, {b_status})")
    check(again["id"] == alice["id"] and again_headers.get("idempotent-replayed") == "true",
          "AuthMode JWT: a caller's retry replays that caller's order")
    status, _, _ = request(f"{api}/orders", "POST", order_for("bob"), token("alice"))
    check(status == 403, f"AuthMode JWT: an order for another customer than the token names answers 403 (got {status})")
    (own, _, _), (other, _, _) = (request(f"{api}/orders/{alice['id']}", "GET", None, token(subject)) for subject in ("alice", "bob"))
    check((own, other) == (200, 404), f"AuthMode JWT: an order is its caller's to read; another caller gets 404 (got {own}, {other})")
# starter: end


# starter: with realtime
def ws_jwt_settings(deployment: Deployment, template: Template) -> dict[str, str] | None:
    """ws-api's deployed JWT_* environment (AuthMode JWT at $connect), or None without ws-api."""
    for binary, variables in deployment.functions(template).values():
        if binary == "ws-api":
            return {name: value for name, value in variables.items() if name.startswith("JWT_")}
    return None


def websocket_connect_with_jwt(deployment: Deployment, template: Template, issuer: LoopbackIssuer) -> None:
    """With AuthMode JWT: ws-api, run with its deployed environment (and the loopback issuer's CA
    as AWS_CA_BUNDLE), opens a connection for a JWT the issuer signed, recorded in the deployed
    connections table with the token's customer, and refuses one for another audience."""
    deployed = next((variables for binary, variables in deployment.functions(template).values() if binary == "ws-api"), None)
    if deployed is None:
        return
    environment = {**deployment.environment, **deployed, "AWS_CA_BUNDLE": str(issuer.ca_bundle),
                   "AWS_LAMBDA_LOG_FORMAT": template.log_format() or "Text"}
    started = Functions({"ws-api": environment}, LOG, free_port()).start()

    def connect(connection_id: str, token: str) -> dict[str, Any]:
        return {"requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": connection_id},
                "queryStringParameters": {"token": token}}

    try:
        started.warm_up("ws-api", connect("rehearsal-warm-up", ""))
        claims = {"iss": issuer.issuer, "aud": "rehearsal-app", "sub": "c-rehearsal", "exp": int(time.time()) + 300}
        answer = invoke(started.invoke_endpoint, "ws-api", connect("rehearsal-jwt", issuer.token(claims)), timeout=60)
        item = deployment.client("dynamodb").get_item(
            TableName=deployed["CONNECTIONS_TABLE"],
            Key={"pk": {"S": "connection#rehearsal-jwt"}, "sk": {"S": "connection"}}).get("Item", {})
        check(answer["statusCode"] == 200 and item.get("customer_id") == {"S": "c-rehearsal"},
              f"AuthMode JWT: the WebSocket's $connect takes a JWT signed by the issuer's published key "
              f"(answer {answer['statusCode']}, connection recorded for {item.get('customer_id')})")
        other = invoke(started.invoke_endpoint, "ws-api",
                       connect("rehearsal-other", issuer.token({**claims, "aud": "another-app"})), timeout=60)
        check(other["statusCode"] == 401 and issuer.asked == ["/.well-known/openid-configuration", "/keys"],
              f"AuthMode JWT: a JWT for another audience is refused (answer {other['statusCode']}); "
              f"the keys were found through discovery and fetched once ({issuer.asked})")
    finally:
        started.stop()


# starter: end


def run_checks(deployment: Deployment, template: Template, checks=None) -> None:  # noqa: ANN001
    functions = deployment.functions(template)
    binaries = {name: binary for name, (binary, _) in functions.items()}
    routes = deployment.http_routes(binaries)
    mappings = deployment.sqs_mappings(binaries)
    serving = {route.binary for route in routes} | {mapping.binary for mapping in mappings}
    environments = {}
    for binary, variables in functions.values():
        if binary in serving:
            environments[binary] = {**deployment.environment, **variables,
                                    "AWS_LAMBDA_LOG_FORMAT": template.log_format() or "Text"}
    say(f"deployed: {len(functions)} functions, {len(routes)} HTTP routes, {len(mappings)} SQS mappings; "
        f"running {', '.join(sorted(environments))} with their deployed environments")
    started = Functions(environments, LOG, free_port()).start()
    pollers = []
    gateway = None
    try:
        for route in routes:
            started.warm_up(route.binary, Functions.HTTP_WARM_UP)
        for mapping in mappings:
            started.warm_up(mapping.binary, Functions.SQS_WARM_UP)
        gateway = Gateway(routes, started.invoke_endpoint, free_port(), log=log_line).start()
        if mappings:
            from tools.local.poller import SqsPoller  # noqa: PLC0415 - a project without SQS sources has no poller module

            pollers = [SqsPoller(mapping, deployment.client("sqs"), started.invoke_endpoint, log=log_line).start()
                       for mapping in mappings]
        (checks or black_box)(gateway.url, routes)
    finally:
        for poller in pollers:
            poller.stop()
        if gateway is not None:
            gateway.stop()
        started.stop()


def main() -> int:
    if not BUILT_TEMPLATE.exists():
        raise SystemExit(f"{BUILT_TEMPLATE.relative_to(ROOT)} is missing: run `make build` (sam build) first")
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    LOG.write_bytes(b"")
    template = Template.read()
    expected = len([r for r in template.translated.values() if "Condition" not in r])
    began = time.monotonic()
    with contextlib.ExitStack() as running:
        moto = Moto(LOG, "127.0.0.1", patches=("tools.rehearsal.moto_cloudformation",)).start()
        running.callback(moto.stop)
        deployment = Deployment(moto, f"http://localhost:{moto.port}")
        # us-east-1 takes no location constraint (any other region requires one).
        location = {} if REGION == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": REGION}}
        deployment.client("s3").create_bucket(Bucket=BUCKET, **location)
        packaged = WORK_DIR / "packaged.yaml"
        took = deployment.sam("package", "--template-file", str(BUILT_TEMPLATE), "--s3-bucket", BUCKET,
                              "--region", REGION, "--output-template-file", str(packaged))
        say(f"packaged in {took:.1f} s")
        # What `sam deploy` publishes when the deployer names no parameter.
        took = deployment.deploy(packaged)
        stack = deployment.stack()
        resources = deployment.resources()
        check(stack["StackStatus"] == "CREATE_COMPLETE", f"sam deploy created the stack ({stack['StackStatus']}, {took:.1f} s)")
        check(len(resources) >= expected and all(r["ResourceStatus"] == "CREATE_COMPLETE" for r in resources.values()),
              f"all {len(resources)} resources are CREATE_COMPLETE (the template makes {expected} without its optional ones)")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        declared = set(template.body.get("Outputs", {}))
        check(set(outputs) == declared and all(outputs.values()),
              f"all {len(declared)} outputs resolved (missing or empty: {sorted(k for k in declared if not outputs.get(k))})")
        with_auth = "AuthMode" in template.body.get("Parameters", {})
        if with_auth:
            auth = deployment.route_auth()
            check({kind for kind, _ in auth.values()} == {"AWS_IAM"},
                  f"the default AuthMode, IAM: every one of the {len(auth)} routes takes SigV4 callers only")
            run_checks(deployment, template, closed_to_anonymous)
            took = deployment.deploy(packaged, AuthMode="NONE")
            auth = deployment.route_auth()
            check(deployment.stack()["StackStatus"] == "UPDATE_COMPLETE" and {kind for kind, _ in auth.values()} == {"NONE"},
                  f"AuthMode NONE, named by the deployer: every one of the {len(auth)} routes is open to anyone ({took:.1f} s)")
        run_checks(deployment, template)
        # starter: with realtime
        ws_jwt = ws_jwt_settings(deployment, template)
        if ws_jwt is not None:
            check(ws_jwt == {}, f"AuthMode NONE: ws-api takes its own $connect tokens only (JWT settings: {ws_jwt})")
        # starter: end

        if with_auth:
            # The issuer the JWT deploy names. The API's authorizer only holds its URL here (moto
            # fetches no keys, and the local gateway's stand-in authorizer checks no signature).
            issuer_url = "https://issuer.rehearsal.invalid"
            # starter: with realtime
            # ws-api checks JWTs at $connect itself, fetching the issuer's keys: a real OpenID
            # provider on loopback (tools/rehearsal/oidc.py: discovery and keys over HTTPS, a CA
            # made for the run).
            issuer = LoopbackIssuer(WORK_DIR).start()
            running.callback(issuer.stop)
            issuer_url = issuer.issuer
            # starter: end
            took = deployment.deploy(packaged, AuthMode="JWT", JwtIssuer=issuer_url, JwtAudience="rehearsal-app")
            auth = deployment.route_auth()
            check({kind for kind, _ in auth.values()} == {"JWT"}
                  and all(config == {"Issuer": issuer_url, "Audience": ["rehearsal-app"]} for _, config in auth.values()),
                  f"AuthMode JWT: every route takes tokens of {issuer_url} for rehearsal-app ({took:.1f} s)")
            # starter: with realtime
            ws_jwt = ws_jwt_settings(deployment, template)
            if ws_jwt is not None:
                expected_ws = {"JWT_ISSUER": issuer_url, "JWT_AUDIENCE": "rehearsal-app", "JWT_CUSTOMER_CLAIM": "sub"}
                check(ws_jwt == expected_ws,
                      f"AuthMode JWT: ws-api's $connect takes JWTs of the same issuer and audience (got {ws_jwt})")
                websocket_connect_with_jwt(deployment, template, issuer)
            # starter: end
            # starter: with sync
            if "POST /orders" in auth:
                run_checks(deployment, template, callers_apart)
            # starter: end

        tables = [r["PhysicalResourceId"] for r in resources.values() if r["ResourceType"] == "AWS::DynamoDB::Table"]
        took = deployment.sam("delete", "--stack-name", STACK_NAME, "--region", REGION, "--no-prompts")
        left = deployment.client("cloudformation").list_stacks(StackStatusFilter=["CREATE_COMPLETE", "UPDATE_COMPLETE"])["StackSummaries"]
        remaining = set(deployment.client("dynamodb").list_tables()["TableNames"]) & set(tables)
        # As the built template (what was deployed) says.
        if load(BUILT_TEMPLATE).get("Parameters", {}).get("DataRetention", {}).get("Default") == "Retain":
            check(not left and remaining == set(tables),
                  f"sam delete removed the stack and kept its {len(tables)} tables (DataRetention Retain) ({took:.1f} s)")
        else:
            check(not left and not remaining, f"sam delete removed the stack and its {len(tables)} tables ({took:.1f} s)")
    say(f"rehearsal passed in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
