"""Signed webhooks end to end: POST /jobs with a callback_url -> job-worker -> outbox -> SNS ->
WebhookQueue -> webhook-dispatcher -> a receiver on loopback (tools/local/webhook_receiver.py) that
checks every signature the way the Standard Webhooks specification describes, in Python,
independently of the Rust signer. The key is the caller's own receiver key, from
GET /webhooks/key (webhook-keys), derived from the secret the stack created from the template."""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.request

import pytest
from flow import call, client, log_mark, require_stack, wait_for_metric, wait_until

from tools.local.webhook_receiver import Receiver, key_bytes, verify

SECRET_ID = "WebhookSigningSecret"


@pytest.fixture(scope="module")
def signing_key() -> bytes:
    """The receiver key of the caller the local gateway stands in, who submits these jobs."""
    require_stack()
    status, answer = call("GET", "/webhooks/key")
    assert status == 200, answer
    return key_bytes(answer["key"])


def key_of_another_caller() -> bytes:
    """The receiver key of another IAM caller: a SigV4-signed request is the IAM user its access
    key id names (the local gateway checks the signature's form only)."""
    signed = urllib.request.Request(os.environ["LOCAL_API_URL"] + "/webhooks/key", headers={
        "authorization": "AWS4-HMAC-SHA256 Credential=AKIDANOTHERCALLER/20261207/us-east-1/execute-api/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    with urllib.request.urlopen(signed, timeout=30) as answer:
        return key_bytes(json.loads(answer.read())["key"])


def test_each_caller_gets_its_own_receiver_key_and_not_the_stacks(signing_key):
    stack_key = client("secretsmanager").get_secret_value(SecretId=SECRET_ID)["SecretString"].encode()
    assert signing_key != stack_key
    assert call("GET", "/webhooks/key") == (200, {"key": "whsec_" + base64.b64encode(signing_key).decode()}), \
        "the same caller, the same key"
    assert key_of_another_caller() not in (signing_key, stack_key)


def submit(callback_url: str) -> str:
    status, job = call("POST", "/jobs", {"type": "report", "input": {"seconds": 0}, "callback_url": callback_url})
    assert status == 202, job
    return job["id"]


def test_a_finished_job_is_posted_to_its_callback_once_and_signed(signing_key):
    receiver = Receiver(signing_key)
    try:
        job_id = submit(receiver.url)
        wait_until(lambda: receiver.requests, 60, "the webhook delivery")
        time.sleep(3)  # room for a duplicate, if the dispatcher sent one
        assert len(receiver.requests) == 1
        delivery = receiver.requests[0]
        assert delivery["verified"], "the signature must verify with the caller's receiver key"
        assert not verify(key_of_another_caller(), delivery["headers"], delivery["raw"]), \
            "another caller's key verifies none of this caller's deliveries"
        assert delivery["path"] == "/hooks/jobs"
        event = delivery["body"]
        assert (event["type"], event["data"]["job_id"]) == ("job.succeeded", job_id)
        assert delivery["id"] == event["id"], "webhook-id is the event id"
    finally:
        receiver.close()


def test_a_receiver_failing_three_times_gets_exactly_one_accepted_delivery(signing_key):
    receiver = Receiver(signing_key, failures=3)
    mark = log_mark()
    try:
        job_id = submit(receiver.url)
        wait_until(lambda: receiver.accepted(), 90, "the fourth delivery attempt")
        time.sleep(3)
        assert [request["status"] for request in receiver.requests] == [500, 500, 500, 204]
        assert len({request["id"] for request in receiver.requests}) == 1, "every retry carries the same webhook-id"
        assert all(request["verified"] for request in receiver.requests)
        assert receiver.accepted()[0]["body"]["data"]["job_id"] == job_id
        # Counted by outcome, each with its latency.
        wait_for_metric(mark, "WebhookDeliveries", "rejected", "webhook-dispatcher", total=3)
        wait_for_metric(mark, "WebhookDeliveries", "delivered", "webhook-dispatcher")
        # A latency is milliseconds (a loopback delivery may take less than one): one document.
        latency = wait_for_metric(mark, "WebhookLatency", "delivered", "webhook-dispatcher", documents=1)[0]
        assert latency["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "WebhookLatency", "Unit": "Milliseconds"}]
        assert 0 < latency["WebhookLatency"] < 60_000
    finally:
        receiver.close()


def test_a_receiver_that_never_succeeds_leaves_the_event_in_the_dead_letter_queue(signing_key):
    receiver = Receiver(signing_key, failures=float("inf"))
    sqs = client("sqs")
    dead_letters = sqs.get_queue_url(QueueName="WebhookDeadLetterQueue")["QueueUrl"]
    try:
        job_id = submit(receiver.url)

        def in_dead_letter_queue():
            for message in sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=1).get("Messages", []):
                if json.loads(message["Body"])["data"]["job_id"] == job_id:
                    sqs.delete_message(QueueUrl=dead_letters, ReceiptHandle=message["ReceiptHandle"])
                    return True
            return False

        wait_until(in_dead_letter_queue, 120, "the undeliverable event in WebhookDeadLetterQueue")
        assert len(receiver.requests) == 5, "maxReceiveCount tries, then the dead-letter queue"
        assert not receiver.accepted()
    finally:
        receiver.close()


@pytest.mark.parametrize(("callback_url", "detail"), [
    ("https://10.0.0.7/hooks", "must not point at a private, loopback or link-local address"),
    ("https://169.254.169.254/latest/meta-data/", "must not point at a private, loopback or link-local address"),
    ("http://hooks.example.com/jobs", "must use https"),
    ("https://user:password@hooks.example.com/", "must not contain credentials"),
])
def test_a_callback_url_that_may_not_be_called_is_refused_at_submit_time(callback_url, detail):
    require_stack()
    status, problem = call("POST", "/jobs", {"type": "report", "input": {"seconds": 0}, "callback_url": callback_url})
    assert status == 422
    assert {"pointer": "/callback_url", "detail": detail} in problem["errors"]
