"""A local stand-in for the template's API Gateway WebSocket API, and its Management API.

- Accepts real WebSocket connections on 127.0.0.1 (`ws://127.0.0.1:<port>/?token=...`).
- For each connection, message and close it invokes the function of the matching route
  (the template's AWS::ApiGatewayV2::Route -> Integration -> function) through cargo-lambda's
  Invoke API, with the event API Gateway sends: `$connect` (headers and query string; any
  answer but 200 refuses the handshake with that status), the route chosen by the
  RouteSelectionExpression `$request.body.action` or `$default`, and `$disconnect`.
- A route with a route response sends the function's `body` back to the client.
- Serves the Management API on a second port, at `http://127.0.0.1:<port>/<stage>`, the endpoint
  the functions' SDK is given locally: `POST /@connections/{id}` sends to a connection (410
  GoneException for one that is not open), `GET` describes it, `DELETE` closes it. Requests are
  not signature-checked.

Differences from API Gateway, on purpose or for want of need: no TLS (ws://, http://), no IAM
check of Management API calls, no idle timeout (10 min) or two-hour connection limit, no frame
size limit (128 KB) or message rate throttling, no authorizers, $disconnect is always invoked
(API Gateway tries, without promise), and only the RouteSelectionExpression `$request.body.<field>`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import threading
import time
import uuid
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from tools.shared.aws import free_port
from tools.shared.cfn import REGION, Template
from tools.shared.lambda_api import InvocationFailed, invoke


def websocket_api(template: Template) -> dict[str, Any] | None:
    """The template's WebSocket API: its id, stage, route selection field and routes
    (route key -> binary, and whether the route has a route response). None without one."""
    apis = [name for name, resource in template.of_type("AWS::ApiGatewayV2::Api").items()
            if resource["Properties"].get("ProtocolType") == "WEBSOCKET"]
    if not apis:
        return None
    if len(apis) > 1:
        raise SystemExit("the local WebSocket gateway serves one WebSocket API; the template has several")
    api = apis[0]

    def of_api(kind: str) -> dict[str, dict]:
        return {name: resource for name, resource in template.of_type(kind).items()
                if resource["Properties"].get("ApiId") == {"Ref": api}}

    integrations = {}
    for name, resource in of_api("AWS::ApiGatewayV2::Integration").items():
        uri = json.dumps(resource["Properties"]["IntegrationUri"])
        function = re.search(r"\$\{(\w+)\.Arn\}", uri)
        if function is None:
            raise SystemExit(f"{name}: only Lambda proxy integrations (${{Function.Arn}}) are served locally")
        integrations[name] = template.binary(function.group(1))
    with_response = {resource["Properties"]["RouteId"]["Ref"] for resource in of_api("AWS::ApiGatewayV2::RouteResponse").values()}
    routes = {}
    for name, resource in of_api("AWS::ApiGatewayV2::Route").items():
        target = resource["Properties"]["Target"]
        target = target.get("Fn::Sub", target) if isinstance(target, dict) else target
        integration = re.search(r"integrations/\$\{(\w+)\}", str(target)).group(1)
        routes[resource["Properties"]["RouteKey"]] = {"binary": integrations[integration], "responds": name in with_response}
    stages = of_api("AWS::ApiGatewayV2::Stage")
    stage = next(iter(stages.values()))["Properties"]["StageName"] if stages else "$default"
    selection = template.resources[api]["Properties"].get("RouteSelectionExpression", "$request.body.action")
    field = selection.removeprefix("$request.body.")
    return {"id": api, "stage": stage, "field": field, "routes": routes}


def connection_id() -> str:
    """An id shaped like API Gateway's (12 random bytes, base64)."""
    return base64.b64encode(os.urandom(12)).decode()


class WebSocketGateway:
    def __init__(self, api: dict[str, Any], invoke_endpoint: str, port: int | None = None,
                 management_port: int | None = None, log: Callable[[str], None] = print):
        self.api, self.invoke_endpoint, self.log = api, invoke_endpoint, log
        self.port = port or free_port()
        self.management_port = management_port or free_port()
        self.connections: dict[str, tuple[ServerConnection, dict]] = {}
        self.ids: dict[ServerConnection, str] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ready = threading.Event()
        self.stopping: asyncio.Future | None = None
        self.management: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def management_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.management_port}/{self.api['stage']}"

    # -- the events API Gateway sends -------------------------------------------------------

    def _context(self, connection_id: str, route_key: str, event_type: str, connected_at: int) -> dict[str, Any]:
        now = int(time.time() * 1000)
        return {
            "routeKey": route_key,
            "eventType": event_type,
            "extendedRequestId": uuid.uuid4().hex[:16] + "=",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
            "messageDirection": "IN",
            "stage": self.api["stage"],
            "connectedAt": connected_at,
            "requestTimeEpoch": now,
            "identity": {"sourceIp": "127.0.0.1"},
            "requestId": uuid.uuid4().hex[:16] + "=",
            "domainName": f"127.0.0.1:{self.port}",
            "connectionId": connection_id,
            "apiId": self.api["id"],
        }

    def _invoke(self, route_key: str, event: dict[str, Any]) -> dict[str, Any] | None:
        route = self.api["routes"].get(route_key)
        if route is None:
            return None
        try:
            answer = invoke(self.invoke_endpoint, route["binary"], event, timeout=30)
        except InvocationFailed as error:
            self.log(f"websocket {route_key}: {error}")
            return {"statusCode": 502}
        return answer if isinstance(answer, dict) else {"statusCode": 502}

    # -- WebSocket side ------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        cid = connection_id()
        connected_at = int(time.time() * 1000)
        query = parse_qs(urlsplit(request.path).query)
        headers = {name: value for name, value in request.headers.raw_items()}
        event = {
            "headers": headers,
            "multiValueHeaders": {name: request.headers.get_all(name) for name in headers},
            "queryStringParameters": {name: values[-1] for name, values in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "requestContext": self._context(cid, "$connect", "CONNECT", connected_at),
            "isBase64Encoded": False,
        }
        answer = await asyncio.to_thread(self._invoke, "$connect", event) or {"statusCode": 200}
        status = int(answer.get("statusCode", 502))
        self.log(f"websocket $connect {cid}: {status}")
        if status != 200:
            try:
                refusal = HTTPStatus(status)
            except ValueError:
                refusal = HTTPStatus.BAD_GATEWAY
            return connection.respond(refusal, answer.get("body") or "")
        self.ids[connection] = cid
        self.connections[cid] = (connection, {"connectedAt": connected_at, "lastActiveAt": connected_at})
        return None

    async def _serve(self, connection: ServerConnection) -> None:
        cid = self.ids.pop(connection)
        connected_at = self.connections[cid][1]["connectedAt"]
        try:
            async for message in connection:
                self.connections[cid][1]["lastActiveAt"] = int(time.time() * 1000)
                binary = isinstance(message, bytes)
                route_key = self._route(message)
                if route_key is None:
                    await connection.send(json.dumps({"message": "Forbidden", "connectionId": cid}))
                    continue
                event = {
                    "requestContext": {**self._context(cid, route_key, "MESSAGE", connected_at), "messageId": uuid.uuid4().hex[:16] + "="},
                    "body": base64.b64encode(message).decode() if binary else message,
                    "isBase64Encoded": binary,
                }
                answer = await asyncio.to_thread(self._invoke, route_key, event)
                if self.api["routes"][route_key]["responds"] and answer and answer.get("body") is not None:
                    await connection.send(answer["body"])
        finally:
            self.connections.pop(cid, None)
            event = {
                "headers": {"Host": f"127.0.0.1:{self.port}"},
                "requestContext": {**self._context(cid, "$disconnect", "DISCONNECT", connected_at),
                                   "disconnectStatusCode": connection.close_code or 1006,
                                   "disconnectReason": connection.close_reason or ""},
                "isBase64Encoded": False,
            }
            await asyncio.to_thread(self._invoke, "$disconnect", event)
            self.log(f"websocket $disconnect {cid}")

    def _route(self, message: str | bytes) -> str | None:
        try:
            action = json.loads(message).get(self.api["field"])
        except (ValueError, AttributeError):
            action = None
        if isinstance(action, str) and action in self.api["routes"] and not action.startswith("$"):
            return action
        return "$default" if "$default" in self.api["routes"] else None

    # -- Management API side -------------------------------------------------------------------

    def _post(self, cid: str, data: bytes) -> bool:
        open_connection = self.connections.get(cid)
        if open_connection is None or self.loop is None:
            return False
        try:
            payload: str | bytes = data.decode()
        except UnicodeDecodeError:
            payload = data
        try:
            asyncio.run_coroutine_threadsafe(open_connection[0].send(payload), self.loop).result(timeout=10)
        except Exception:  # the connection closed meanwhile: gone, as API Gateway would say
            return False
        return True

    def _management_handler(self) -> type[BaseHTTPRequestHandler]:
        gateway = self
        prefix = f"/{self.api['stage']}/@connections/"

        class Handler(BaseHTTPRequestHandler):
            def _connection(self) -> str | None:
                path = urlsplit(self.path).path
                return unquote(path[len(prefix):]) if path.startswith(prefix) else None

            def _answer(self, status: int, body: dict | None = None, error: str | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.end_headers()
                self.wfile.write(data)

            def _gone(self) -> None:
                self._answer(410, {"message": None}, "GoneException")

            def do_POST(self):  # noqa: N802
                cid = self._connection()
                data = self.rfile.read(int(self.headers.get("content-length", 0)))
                if cid is None:
                    return self._answer(404, {"message": "Not Found"})
                if not gateway._post(cid, data):
                    return self._gone()
                self._answer(200)

            def do_GET(self):  # noqa: N802
                cid = self._connection()
                open_connection = gateway.connections.get(cid or "")
                if open_connection is None:
                    return self._gone()
                info = open_connection[1]
                self._answer(200, {"connectedAt": info["connectedAt"] / 1000, "lastActiveAt": info["lastActiveAt"] / 1000,
                                   "identity": {"sourceIp": "127.0.0.1", "userAgent": ""}})

            def do_DELETE(self):  # noqa: N802
                cid = self._connection()
                open_connection = gateway.connections.get(cid or "")
                if open_connection is None or gateway.loop is None:
                    return self._gone()
                asyncio.run_coroutine_threadsafe(open_connection[0].close(), gateway.loop).result(timeout=10)
                self._answer(204)

            def log_message(self, *args):
                pass

        return Handler

    # -- running -----------------------------------------------------------------------------

    async def _main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopping = self.loop.create_future()
        async with serve(self._serve, "127.0.0.1", self.port, process_request=self._process_request):
            self.ready.set()
            await self.stopping

    def start(self) -> "WebSocketGateway":
        threading.Thread(target=lambda: asyncio.run(self._main()), name="websocket gateway", daemon=True).start()
        if not self.ready.wait(10):
            raise RuntimeError("the local WebSocket gateway did not start")
        self.management = ThreadingHTTPServer(("127.0.0.1", self.management_port), self._management_handler())
        threading.Thread(target=self.management.serve_forever, name="websocket management api", daemon=True).start()
        return self

    def stop(self) -> None:
        if self.management:
            self.management.shutdown()
        if self.loop and self.stopping and not self.stopping.done():
            self.loop.call_soon_threadsafe(self.stopping.set_result, None)


def local_endpoints(environment: dict[str, str], api: dict[str, Any], gateway: WebSocketGateway) -> dict[str, str]:
    """The functions' environment with the WebSocket API's Management API endpoint (as the
    template writes it) replaced by the local gateway's."""
    deployed = f"https://{api['id']}.execute-api.{REGION}.amazonaws.com/{api['stage']}"
    return {name: gateway.management_endpoint if value == deployed else value for name, value in environment.items()}

