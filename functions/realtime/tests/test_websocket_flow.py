"""WebSocket push end to end: a real WebSocket client -> the local WebSocket gateway -> ws-api
(token check, subscribe) -> ConnectionsTable (moto); POST /jobs -> job-worker -> outbox -> SNS ->
WsPushQueue -> ws-push -> the Management API's PostToConnection (real SDK) -> the client."""

from __future__ import annotations

import json
import os
import time

import pytest
from flow import call, client, log_mark, require_stack, wait_for_metric, wait_until
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tools.local.ws_token import mint

SECRET_ID = "WsTokenSecret"


def token(customer: str, valid_for: int = 300) -> str:
    """A $connect token, minted as realtime::token describes (in Python: an independent check of
    the Rust reader) with the stack's secret."""
    key = client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"].encode()
    return mint(key, customer, int(time.time()) + valid_for)


@pytest.fixture(scope="module")
def ws_url() -> str:
    require_stack()
    url = os.environ.get("LOCAL_WS_URL", "")
    assert url, "the local stack serves the template's WebSocket API at LOCAL_WS_URL"
    return url


def submit(seconds: int, customer: str) -> str:
    """A job for `customer`: the connections of that customer may follow it, no other."""
    status, job = call("POST", "/jobs", {"type": "report", "input": {"seconds": seconds}, "customer_id": customer})
    assert status == 202, job
    return job["id"]


def receive_until(websocket, predicate, timeout: float) -> list[dict]:
    """Every message received until one satisfies `predicate` (or the timeout passes)."""
    messages, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = json.loads(websocket.recv(timeout=max(0.1, deadline - time.monotonic())))
        except TimeoutError:
            break
        messages.append(message)
        if predicate(message):
            break
    return messages


def test_a_connection_without_a_valid_token_is_refused(ws_url):
    for url in (ws_url, f"{ws_url}/?token=v1.c-42.4102444800.forged"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=30).close()
        assert refused.value.response.status_code == 401


def test_a_subscriber_receives_its_job_finishing_and_nothing_for_other_jobs(ws_url):
    mark = log_mark()
    with connect(f"{ws_url}/?token={token('c-live')}", open_timeout=30) as websocket, \
            connect(f"{ws_url}/?token={token('c-stranger')}", open_timeout=30) as stranger:
        followed = submit(seconds=2, customer="c-live")
        other = submit(seconds=0, customer="c-live")
        websocket.send(json.dumps({"action": "subscribe", "job_id": followed}))
        assert json.loads(websocket.recv(timeout=30)) == {"type": "subscribed", "topics": [f"job:{followed}"]}
        # Another customer who learnt the id: answered as for any id, and sent nothing.
        stranger.send(json.dumps({"action": "subscribe", "job_id": followed}))
        assert json.loads(stranger.recv(timeout=30)) == {"type": "subscribed", "topics": [f"job:{followed}"]}

        messages = receive_until(websocket, lambda m: m.get("type") == "job.succeeded", timeout=60)
        finished = [m for m in messages if m.get("type") == "job.succeeded"]
        assert [m["data"]["job_id"] for m in finished] == [followed]
        assert finished[0]["data"]["customer_id"] == "c-live"
        # The other job finished first (no wait); anything about it would have arrived by now.
        time.sleep(2)
        assert all(m.get("data", {}).get("job_id") != other for m in messages + receive_until(websocket, lambda m: False, 1))
        assert receive_until(stranger, lambda m: True, 1) == []
    wait_for_metric(mark, "Pushes", "pushed", "ws-push")
    wait_for_metric(mark, "Pushes", "withheld", "ws-push")


def test_a_message_the_api_does_not_know_is_answered_with_the_actions_there_are(ws_url):
    with connect(f"{ws_url}/?token={token('c-live')}", open_timeout=30) as websocket:
        websocket.send(json.dumps({"action": "publish", "topic": "everything"}))
        answer = json.loads(websocket.recv(timeout=30))
        assert answer["type"] == "error" and "subscribe" in answer["message"]
        websocket.send(json.dumps({"action": "subscribe", "customer_id": "somebody-else"}))
        answer = json.loads(websocket.recv(timeout=30))
        assert answer == {"type": "error", "message": "customer_id must be the customer this connection's token names"}


def test_a_gone_connection_is_removed_when_an_event_finds_it(ws_url):
    dynamodb = client("dynamodb")
    table = os.environ["CONNECTIONS_TABLE"]
    mark = log_mark()
    job_id = submit(seconds=2, customer="c-ghost")
    ghost = "R2hvc3RDb25uZWN0aW9u"  # subscribed, but no such connection at the gateway: 410 Gone
    expires = {"N": str(int(time.time()) + 3600)}
    for pk, sk in (("connection#" + ghost, "connection"), ("connection#" + ghost, f"topic#job:{job_id}"), (f"topic#job:{job_id}", "connection#" + ghost)):
        dynamodb.put_item(TableName=table, Item={"pk": {"S": pk}, "sk": {"S": sk}, "expires_at": expires, "customer_id": {"S": "c-ghost"}})

    def ghost_items() -> int:
        return dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", Select="COUNT",
                              ExpressionAttributeValues={":pk": {"S": "connection#" + ghost}})["Count"] \
            + dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", Select="COUNT",
                             ExpressionAttributeValues={":pk": {"S": f"topic#job:{job_id}"}})["Count"]

    assert ghost_items() == 3
    wait_until(lambda: ghost_items() == 0, 60, "ws-push to remove the gone connection and its subscription")
    wait_for_metric(mark, "Pushes", "gone", "ws-push")


def test_closing_the_websocket_forgets_the_connection(ws_url):
    dynamodb = client("dynamodb")
    table = os.environ["CONNECTIONS_TABLE"]
    job_id = submit(seconds=5, customer="c-closing")
    with connect(f"{ws_url}/?token={token('c-closing')}", open_timeout=30) as websocket:
        websocket.send(json.dumps({"action": "subscribe", "job_id": job_id}))
        websocket.recv(timeout=30)

    def followers() -> int:
        return dynamodb.query(TableName=table, KeyConditionExpression="pk = :pk", Select="COUNT",
                              ExpressionAttributeValues={":pk": {"S": f"topic#job:{job_id}"}})["Count"]

    wait_until(lambda: followers() == 0, 30, "$disconnect to remove the subscription")
