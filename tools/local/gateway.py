"""A local HTTP API gateway: the template's HttpApi routes, served on loopback.

Each request becomes an API Gateway HTTP API (payload format 2.0) event with the route key and
path parameters API Gateway would set, and is invoked through cargo-lambda's Lambda Invoke API;
the function's proxy answer becomes the HTTP answer. Differences from API Gateway: no
throttling, no CORS, one stage ($default), and authorizers that check less (see `authorize`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from tools.shared.cfn import ACCOUNT_ID, HttpRoute, RouteAuth
from tools.shared.lambda_api import InvocationFailed, LoopbackServer, invoke

# API Gateway's own payload limit.
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024


def select_route(routes: list[HttpRoute], method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
    """API Gateway's choice: an exact method before ANY, a plain path before a greedy one, and
    the $default route last."""

    def rank(route: HttpRoute) -> tuple[int, int, int]:
        if route.path is None:
            return (3, 0, 0)
        greedy = "+}" in route.path
        return (1 if greedy else 0, 0 if route.method == method else 1, -len(route.path))

    for route in sorted(routes, key=rank):
        parameters = route.match(method, path)
        if parameters is not None:
            return route, parameters
    return None


# The principal an unsigned request acts as on an AWS_IAM route, where the local stack stands one
# in (`make up`, `make demo`, the tests): the caller a curl line without --aws-sigv4 is. API
# Gateway answers such a request 403. LOCAL_UNSIGNED_CALLER names another; empty, the local
# gateway refuses unsigned requests as API Gateway does.
DEFAULT_UNSIGNED_CALLER = f"arn:aws:iam::{ACCOUNT_ID}:user/local-caller"


def unsigned_caller_from_env() -> str | None:
    """The stand-in principal of unsigned requests (see DEFAULT_UNSIGNED_CALLER), or None."""
    return os.environ.get("LOCAL_UNSIGNED_CALLER", DEFAULT_UNSIGNED_CALLER) or None


class Refused(Exception):
    """What API Gateway answers a request its authorizer turns away."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def authorize(auth: RouteAuth, headers: dict[str, str], now: float | None = None, unsigned_caller: str | None = None) -> dict | None:
    """The `requestContext.authorizer` API Gateway would pass for a request on a route with
    `auth`, or `Refused` with its answer. A stand-in, for the local loop only:

    - NONE: nothing; the Authorization header is the function's business.
    - JWT: a `Bearer` token whose issuer, audience (`aud`, or `client_id`) and expiry match the
      authorizer's configuration; its claims become `authorizer.jwt.claims`, as strings. The
      signature is NOT checked (the local gateway holds no issuer's keys): a local token can be
      unsigned (`alg: none`).
    - AWS_IAM: a request signed with SigV4 (an `AWS4-HMAC-SHA256` Authorization header) gets, in
      `authorizer.iam`, the IAM user named by its access key id (`Credential=<key id>/...`): two
      access keys are two callers. The signature is NOT checked (there is no IAM here). An
      unsigned request is refused with 403, as API Gateway does, unless `unsigned_caller` stands
      in a principal for it.
    """
    authorization = headers.get("authorization", "")
    if auth.kind == "NONE":
        return None
    if auth.kind == "AWS_IAM":
        if authorization.startswith("AWS4-HMAC-SHA256 "):
            credential = authorization.partition("Credential=")[2].partition("/")[0]
            if not credential.isalnum():
                raise Refused(403, "Forbidden")
            arn = f"arn:aws:iam::{ACCOUNT_ID}:user/{credential}"
            caller_id = credential
        elif unsigned_caller is not None:
            arn, caller_id = unsigned_caller, "AIDALOCALCALLER"
        else:
            raise Refused(403, "Forbidden")
        return {"iam": {"accountId": arn.split(":")[4], "userArn": arn, "callerId": caller_id,
                        "userId": caller_id, "principalOrgId": None, "cognitoIdentity": None}}
    if auth.kind == "JWT":
        scheme, _, token = authorization.partition(" ")
        claims = _jwt_claims(token) if scheme.lower() == "bearer" else None
        if claims is None:
            raise Refused(401, "Unauthorized")
        audiences = claims.get("aud", claims.get("client_id", []))
        audiences = {audiences} if isinstance(audiences, str) else set(audiences)
        expired = isinstance(claims.get("exp"), (int, float)) and claims["exp"] <= (now or time.time())
        if claims.get("iss") != auth.issuer or not audiences & set(auth.audience) or expired:
            raise Refused(401, "Unauthorized")
        return {"jwt": {"claims": {name: _claim_text(value) for name, value in claims.items()}, "scopes": None}}
    raise ValueError(f"no local stand-in for the {auth.kind} authorizer")


def unsigned_token(claims: dict) -> str:
    """A JWT with `claims` that `authorize` takes (it checks no signature): for local callers
    and tests, never for API Gateway."""

    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _jwt_claims(token: str) -> dict | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    return claims if isinstance(claims, dict) else None


def _claim_text(value) -> str:
    """A claim as API Gateway passes it: strings as they are, lists as `[a b]`, the rest as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(item) for item in value) + "]"
    return json.dumps(value)


def http_api_event(route: HttpRoute, parameters: dict[str, str], method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str, authorizer: dict | None = None) -> dict:
    parts = urlsplit(target)
    query = parse_qsl(parts.query, keep_blank_values=True)
    now = time.time()
    event = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": parts.path,
        "rawQueryString": parts.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": headers.get("host", "127.0.0.1"),
            "domainPrefix": headers.get("host", "127.0.0.1").split(".")[0],
            "http": {
                "method": method,
                "path": parts.path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if authorizer is not None:
        event["requestContext"]["authorizer"] = authorizer
    if query:
        event["queryStringParameters"] = {name: ",".join(v for n, v in query if n == name) for name, _ in query}
    if parameters:
        event["pathParameters"] = parameters
    if "cookie" in headers:
        event["cookies"] = [cookie.strip() for cookie in headers["cookie"].split(";")]
    if body:
        try:
            event["body"] = body.decode("utf-8")
        except UnicodeDecodeError:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


class Gateway(LoopbackServer):
    """`unsigned_caller`: the principal an unsigned request on an AWS_IAM route acts as (see
    `authorize`); None refuses it with 403, as API Gateway does."""

    def __init__(self, routes: list[HttpRoute], invoke_endpoint: str, port: int, log=print, unsigned_caller: str | None = None):
        self.routes = routes
        self.unsigned_caller = unsigned_caller
        self.invoke_endpoint = invoke_endpoint
        self.log = log
        super().__init__(self._handler(), port)

    def invoke(self, binary: str, event: dict) -> dict | None:
        try:
            payload = invoke(self.invoke_endpoint, binary, event, timeout=120)
        except InvocationFailed as error:
            self.log(f"gateway: {error}")
            return None
        return payload if isinstance(payload, dict) and "statusCode" in payload else None

    def _handler(self):
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_PAYLOAD_BYTES:
                    self._answer(413, {"content-type": "application/json"}, b'{"message":"Request Entity Too Large"}')
                    return
                body = self.rfile.read(length) if length else b""
                method = self.command
                path = urlsplit(self.path).path
                selected = select_route(gateway.routes, method, path)
                if selected is None:
                    self._answer(404, {"content-type": "application/json"}, b'{"message":"Not Found"}')
                    return
                route, parameters = selected
                headers: dict[str, str] = {}
                for name, value in self.headers.items():
                    name = name.lower()
                    headers[name] = f"{headers[name]},{value}" if name in headers else value
                try:
                    authorizer = authorize(route.auth, headers, unsigned_caller=gateway.unsigned_caller)
                except Refused as refused:
                    self._answer(refused.status, {"content-type": "application/json"},
                                 json.dumps({"message": refused.message}).encode())
                    return
                event = http_api_event(route, parameters, method, self.path, headers, body, self.client_address[0], authorizer)
                answer = gateway.invoke(route.binary, event)
                if answer is None:
                    self._answer(500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
                    return
                data = answer.get("body") or ""
                data = base64.b64decode(data) if answer.get("isBase64Encoded") else data.encode("utf-8")
                out_headers = dict(answer.get("headers") or {})
                for name, values in (answer.get("multiValueHeaders") or {}).items():
                    out_headers[name] = ",".join(values)
                cookies = answer.get("cookies") or []
                self._answer(int(answer["statusCode"]), out_headers, data, cookies)

            def _answer(self, status: int, headers: dict[str, str], body: bytes, cookies: list[str] = ()) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    if name.lower() not in ("content-length", "connection"):
                        self.send_header(name, value)
                for cookie in cookies:
                    self.send_header("set-cookie", cookie)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
                gateway.log(f"gateway: {self.command} {self.path} -> {args[1] if len(args) > 1 else ''}")

        return Handler
