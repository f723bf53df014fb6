"""The local loop's own logic: reading the template and routing like API Gateway."""

from __future__ import annotations

from patterns import has, needs, needs_one_of
from tools.shared.cfn import HttpRoute, Template
from tools.local.gateway import http_api_event, select_route, unsigned_token
from tools.local.stack import command_environment, function_environments

TEMPLATE = Template.read()


def route(method, path):
    return HttpRoute(method=method, path=path, function="F", binary="f")


@needs("sync", "fanout")
def test_each_function_gets_its_own_environment_resolved_to_the_local_resources():
    environments = function_environments(TEMPLATE)
    orders = environments["orders-api"]
    assert orders["ORDERS_TABLE"] == "OrdersTable" and orders["IDEMPOTENCY_TABLE"] == "IdempotencyTable"
    assert orders["TAX_RATE_BASIS_POINTS"] == TEMPLATE.parameter("TaxRateBasisPoints")
    assert orders["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
    assert "NOTIFICATIONS_TABLE" not in orders, "only what the template gives this function"
    assert environments["notifier"]["NOTIFICATIONS_TABLE"] == "NotificationsTable"


@needs("sync")
def test_the_command_gets_each_variable_that_names_one_thing():
    merged = command_environment({"a": {"TABLE": "T", "SAME": "x"}, "b": {"SAME": "x", "ONLY_B": "y"}, "c": {"TABLE": "U"}})
    assert merged == {"SAME": "x", "ONLY_B": "y"}, "TABLE differs between functions: left out"
    assert command_environment(function_environments(TEMPLATE))["ORDERS_TABLE"] == "OrdersTable"


@needs("sync", "async")
def test_the_routes_are_the_template_http_api_events():
    keys = {r.route_key for r in TEMPLATE.http_routes()}
    expected = {"POST /orders", "GET /orders/{id}", "ANY /orders", "ANY /orders/{proxy+}",
                "POST /jobs", "GET /jobs/{id}", "ANY /jobs", "ANY /jobs/{proxy+}"}
    if has("callbacks"):
        expected |= {"GET /webhooks/key", "ANY /webhooks", "ANY /webhooks/{proxy+}"}
    assert keys == expected


@needs("sync", "async")
def test_each_api_answers_its_own_paths_and_no_function_the_rest():
    routes = TEMPLATE.http_routes()
    owner = lambda method, path: (select_route(routes, method, path) or (None,))[0]
    assert owner("GET", "/orders/abc").route_key == "GET /orders/{id}"
    assert owner("DELETE", "/orders/abc").function == "OrdersApiFunction"
    assert owner("GET", "/orders/abc/items").function == "OrdersApiFunction"
    assert owner("GET", "/jobs/abc/result").function == "JobsApiFunction"
    assert owner("PATCH", "/jobs").function == "JobsApiFunction"
    assert owner("GET", "/customers") is None, "API Gateway's own 404: no $default route"


def test_an_exact_route_wins_over_the_default_route():
    routes = [route("ANY", None), route("GET", "/things/{id}"), route("POST", "/things")]
    chosen, parameters = select_route(routes, "GET", "/things/abc")
    assert (chosen.route_key, parameters) == ("GET /things/{id}", {"id": "abc"})
    assert select_route(routes, "DELETE", "/things/abc")[0].route_key == "$default"
    assert select_route(routes, "GET", "/things/a/b")[0].route_key == "$default"


def test_without_a_default_route_an_unknown_path_matches_nothing():
    assert select_route([route("POST", "/things")], "GET", "/elsewhere") is None


def test_a_greedy_parameter_takes_the_rest_of_the_path():
    chosen, parameters = select_route([route("ANY", "/files/{proxy+}")], "GET", "/files/a/b.txt")
    assert parameters == {"proxy": "a/b.txt"}


def test_the_event_has_the_http_api_shape():
    event = http_api_event(route("POST", "/things"), {}, "POST", "/things?x=1&x=2", {"content-type": "application/json"}, b'{"a":1}', "127.0.0.1")
    assert event["version"] == "2.0" and event["routeKey"] == "POST /things"
    assert event["rawQueryString"] == "x=1&x=2" and event["queryStringParameters"] == {"x": "1,2"}
    assert event["body"] == '{"a":1}' and event["isBase64Encoded"] is False
    binary = http_api_event(route("POST", "/things"), {}, "POST", "/things", {}, b"\xff\x00", "127.0.0.1")
    assert binary["isBase64Encoded"] is True and binary["body"] == "/wA="


@needs("async", "fanout", "realtime", "callbacks")
def test_the_sqs_mappings_are_the_template_sqs_events():
    mappings = {(m.queue, m.binary, m.batch_size, m.report_batch_item_failures) for m in TEMPLATE.sqs_mappings()}
    expected = {("JobsQueue", "job-worker", 10, True), ("NotifierQueue", "notifier", 10, True), ("AuditLogQueue", "audit-log", 10, True),
                ("WebhookQueue", "webhook-dispatcher", 10, True), ("WsPushQueue", "ws-push", 10, True)}
    # starter: with events
    expected.add(("OrderReviewQueue", "order-review", 10, True))
    # starter: end
    assert mappings == expected


@needs_one_of("async", "fanout", "realtime", "callbacks")
def test_the_poller_fails_what_lambda_would_fail():
    from tools.local.poller import failed_ids

    batch = {"a", "b", "c"}
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, batch, True) == {"b"}
    assert failed_ids({"batchItemFailures": []}, batch, True) == set()
    assert failed_ids(None, batch, True) == batch, "an invocation error fails the batch"
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, batch, True) == batch, "an unknown id fails the batch"
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, batch, True) == batch, "an empty id fails the batch"
    assert failed_ids("ok", batch, True) == batch, "an answer that is not a batch response fails the batch"


@needs("callbacks")
def test_the_test_receiver_verifies_standard_webhooks_signatures():
    import base64

    from tools.local.webhook_receiver import verify

    # The example of the Standard Webhooks reference libraries' tests.
    key = base64.b64decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    headers = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
               "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    body = b'{"test": 2432232314}'
    assert verify(key, headers, body, now=1614265330)
    assert not verify(key, headers, b'{"test": 1}', now=1614265330)
    assert not verify(key, headers, body, now=1614265330 + 301)
    assert not verify(key, {**headers, "webhook-signature": "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}, body, now=1614265330)


@needs("realtime")
def test_the_local_websocket_gateway_serves_the_template_routes():
    from tools.local.ws_gateway import websocket_api

    api = websocket_api(Template.read())
    assert api["stage"] == "live" and api["field"] == "action"
    assert {key: route["binary"] for key, route in api["routes"].items()} == {
        "$connect": "ws-api", "$disconnect": "ws-api", "subscribe": "ws-api", "$default": "ws-api"}
    assert {key for key, route in api["routes"].items() if route["responds"]} == {"subscribe", "$default"}


@needs("sync", "async", "fanout", "realtime", "callbacks")
def test_the_load_run_expects_poison_events_only_where_a_subscription_filter_lets_them_through():
    from tools.load.load import delivers, queue_names

    queues = {name: queue for name, (queue, _) in queue_names(TEMPLATE).items() if name != "job-worker"}
    # starter: with events
    # The review queue is the EventBridge bus's: no poison sent to the topic reaches it.
    assert not delivers(TEMPLATE, queues.pop("order-review"), {"event_type": "order.created"})
    # starter: end
    reached = {name for name, queue in queues.items() if delivers(TEMPLATE, queue, {"event_type": "order.created"})}
    # The webhook subscription takes job events only; audit-log has no filter.
    assert reached == {"notifier", "audit-log", "ws-push"}
    assert all(delivers(TEMPLATE, queue, {"event_type": "job.failed"}) for queue in queues.values())
    assert not any(delivers(TEMPLATE, queue, {"event_type": "order.shipped"}) for name, queue in queues.items() if name != "audit-log")


@needs("fanout")
def test_the_event_sources_are_read_from_sams_translation_with_lambdas_defaults_for_the_rest():
    (stream,) = [m for m in TEMPLATE.event_source_mappings("AWS::DynamoDB::Table") if m.function == "EventPublisherFunction"]
    assert stream.source == "OutboxTable"
    assert (stream.properties["BatchSize"], stream.properties["MaximumRetryAttempts"]) == (10, 50), "the template's own"
    assert stream.properties["DestinationConfig"]["OnFailure"]["Destination"].endswith(":OutboxPublishFailuresQueue")
    ((function, _, subscription),) = TEMPLATE.lambda_subscriptions()
    assert function == "LargeOrderAlertFunction"
    assert subscription["FilterPolicyScope"] == "MessageBody" and subscription["TopicArn"].endswith(":DomainEventsTopic")
    assert TEMPLATE.event_invoke_config("LargeOrderAlertFunction")["MaximumRetryAttempts"] == 2
    assert TEMPLATE.event_invoke_config("NotifierFunction") == {"MaximumRetryAttempts": 2}, "Lambda's default"


@needs("sync", "async", "fanout")
def test_a_function_environment_is_the_deployed_one_with_the_globals_merged():
    environment = TEMPLATE.function_environment("JobWorkerFunction")
    assert environment["ORDERS_TABLE"] == "OrdersTable" and environment["OUTBOX_TABLE"] == "OutboxTable"
    assert "AWS_ENDPOINT_URL" not in environment, "the global's !If gives no value without LocalAwsEndpoint"


def test_the_invoke_router_sends_each_invocation_to_its_functions_watcher():
    import http.server
    import json
    import urllib.error
    import urllib.request

    from tools.shared.aws import free_port
    from tools.shared.lambda_api import InvokeRouter, LoopbackServer

    def watcher(answer: bytes, error: bool):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                event = self.rfile.read(int(self.headers["content-length"]))
                body = answer + b":" + event
                self.send_response(200)
                if error:
                    self.send_header("x-amz-function-error", "Unhandled")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_):
                pass

        return LoopbackServer(Handler, free_port()).start()

    a, b = watcher(b"a", False), watcher(b"b", True)
    router = InvokeRouter({"fn-a": a.url, "fn-b": b.url}, free_port()).start()
    try:
        def post(name):
            request = urllib.request.Request(f"{router.url}/2015-03-31/functions/{name}/invocations", data=b"{}", method="POST")
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    return answer.status, answer.headers.get("x-amz-function-error"), answer.read()
            except urllib.error.HTTPError as error:
                return error.code, error.headers.get("x-amzn-errortype"), error.read()

        assert post("fn-a") == (200, None, b"a:{}")
        assert post("fn-b") == (200, "Unhandled", b"b:{}"), "a function error passes through as Lambda reports it"
        status, kind, body = post("fn-c")
        assert (status, kind) == (404, "ResourceNotFoundException") and "fn-c" in json.loads(body)["message"]
    finally:
        for server in (router, a, b):
            server.stop()


# The local gateway's stand-in for API Gateway's authorizers (AuthMode) ----------------------------


ISSUER = "https://idp.example.com"


@needs("sync")
def test_each_auth_mode_gives_the_routes_its_authorizer():
    from tools.shared.cfn import RouteAuth

    def auth_of(overrides):
        return {r.route_key: r.auth for r in Template(TEMPLATE.body, overrides).http_routes()}["POST /orders"]

    assert auth_of({}) == auth_of({"AuthMode": "IAM"}) == RouteAuth("AWS_IAM")
    assert auth_of({"AuthMode": "NONE"}) == RouteAuth("NONE")
    assert auth_of({"AuthMode": "JWT", "JwtIssuer": ISSUER, "JwtAudience": "app,ops"}) == RouteAuth("JWT", ISSUER, ("app", "ops"))


def test_with_no_authorizer_the_gateway_passes_no_identity():
    from tools.shared.cfn import RouteAuth
    from tools.local.gateway import authorize

    assert authorize(RouteAuth("NONE"), {"authorization": "Bearer anything"}) is None
    event = http_api_event(route("POST", "/things"), {}, "POST", "/things", {}, b"{}", "127.0.0.1")
    assert "authorizer" not in event["requestContext"]


def test_a_jwt_route_passes_the_token_claims_and_refuses_a_token_for_someone_else():
    import pytest

    from tools.shared.cfn import RouteAuth
    from tools.local.gateway import Refused, authorize

    auth = RouteAuth("JWT", ISSUER, ("app",))
    token = unsigned_token({"iss": ISSUER, "sub": "alice", "aud": "app", "exp": 2_000_000_000, "groups": ["a", "b"]})
    authorizer = authorize(auth, {"authorization": f"Bearer {token}"}, now=1_800_000_000)
    assert authorizer == {"jwt": {"claims": {"iss": ISSUER, "sub": "alice", "aud": "app", "exp": "2000000000", "groups": "[a b]"},
                                  "scopes": None}}
    event = http_api_event(route("POST", "/things"), {}, "POST", "/things", {}, b"{}", "127.0.0.1", authorizer)
    assert event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] == "alice"

    for claims in ({"iss": "https://elsewhere", "sub": "a", "aud": "app"}, {"iss": ISSUER, "sub": "a", "aud": "other"},
                   {"iss": ISSUER, "sub": "a", "aud": "app", "exp": 1_700_000_000}):
        with pytest.raises(Refused) as refused:
            authorize(auth, {"authorization": f"Bearer {unsigned_token(claims)}"}, now=1_800_000_000)
        assert (refused.value.status, refused.value.message) == (401, "Unauthorized")
    for header in ({}, {"authorization": "Bearer not-a-jwt"}, {"authorization": f"Basic {token}"}):
        with pytest.raises(Refused):
            authorize(auth, header)


def test_an_iam_route_refuses_unsigned_requests_and_tells_access_keys_apart():
    import pytest

    from tools.shared.cfn import ACCOUNT_ID, RouteAuth
    from tools.local.gateway import Refused, authorize

    # As API Gateway: no SigV4 signature, 403.
    for headers in ({}, {"authorization": "Bearer x"}, {"authorization": "AWS4-HMAC-SHA256 Credential=../x"}):
        with pytest.raises(Refused) as refused:
            authorize(RouteAuth("AWS_IAM"), headers)
        assert refused.value.status == 403

    def signed(key_id: str) -> dict[str, str]:
        return {"authorization": f"AWS4-HMAC-SHA256 Credential={key_id}/20261206/eu-west-1/execute-api/aws4_request, "
                                 "SignedHeaders=host, Signature=0"}

    alice, bob = authorize(RouteAuth("AWS_IAM"), signed("AKIDALICE")), authorize(RouteAuth("AWS_IAM"), signed("AKIDBOB"))
    assert alice["iam"]["userArn"] == f"arn:aws:iam::{ACCOUNT_ID}:user/AKIDALICE"
    assert bob["iam"]["userArn"] != alice["iam"]["userArn"]
    # The local stack's stand-in principal for unsigned requests (make up, make demo, the tests).
    stand_in = f"arn:aws:iam::{ACCOUNT_ID}:user/local-caller"
    assert authorize(RouteAuth("AWS_IAM"), {}, unsigned_caller=stand_in)["iam"]["userArn"] == stand_in
    assert authorize(RouteAuth("AWS_IAM"), signed("AKIDALICE"), unsigned_caller=stand_in) == alice
