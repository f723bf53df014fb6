"""The local stand-in for EventBridge's delivery (tools/local/eventbridge.py): the input
transformer as EventBridge documents it, where moto differs (pinned), and a target's retry policy
and dead-letter queue."""

from __future__ import annotations

import json
import os
import uuid

import pytest
from flow import client

from tools.local.eventbridge import EventTargetPoller, transform
from tools.shared.cfn import ACCOUNT_ID, REGION, EventRule, EventTarget, Template

EVENT = {
    "version": "0", "id": "eb-1", "detail-type": "order.created", "source": "orders-api", "account": ACCOUNT_ID,
    "time": "2026-12-08T09:00:00Z", "region": REGION, "resources": [],
    "detail": {"id": "e-1", "type": "order.created", "version": 1, "time": "2026-12-08T09:00:00.000Z", "source": "orders-api",
               "data": {"id": "o-1", "customer_id": "c-42", "total": 120000, "items": [{"sku": "A"}]}},
}


def customer_activity_transformer() -> dict:
    """The template's own input transformer (the customer-activity rule), as SAM deploys it."""
    for rule in Template.read().event_rules():
        for target in rule.targets:
            if "InputTransformer" in target.properties:
                return target.properties["InputTransformer"]
    pytest.skip("no rule target with an input transformer in this project")


def test_a_variable_outside_quotes_is_its_json_value_and_inside_quotes_its_text():
    transformer = {
        "InputPathsMap": {"id": "$.detail.id", "total": "$.detail.data.total", "items": "$.detail.data.items", "none": "$.detail.nothing"},
        "InputTemplate": '{"id": <id>, "total": <total>, "items": <items>, "none": <none>, "text": "order <id> of <total>", "kept": "<other>"}',
    }
    assert json.loads(transform(EVENT, transformer)) == {
        "id": "e-1", "total": 120000, "items": [{"sku": "A"}], "none": None, "text": "order e-1 of 120000", "kept": "<other>"}


def test_the_reserved_variables_name_the_rule_and_carry_the_event():
    rule = EventRule(name="R", bus="B", pattern={}, enabled=True, targets=[])
    template = '{"rule": <aws.events.rule-name>, "arn": "<aws.events.rule-arn>", "event": <aws.events.event.json>, "envelope": <aws.events.event>}'
    out = transform(EVENT, {"InputTemplate": template}, rule)
    without_detail = {key: value for key, value in EVENT.items() if key != "detail"}
    assert json.loads(out) == {"rule": "R", "arn": rule.arn, "event": EVENT, "envelope": without_detail}


def test_the_customer_activity_transformer_makes_what_the_function_takes():
    out = json.loads(transform(EVENT, customer_activity_transformer()))
    assert out == {"event_id": "e-1", "event_type": "order.created", "customer_id": "c-42", "at": "2026-12-08T09:00:00.000Z"}


@pytest.fixture(scope="module")
def aws():
    if not os.environ.get("AWS_ENDPOINT_URL"):
        pytest.fail("AWS_ENDPOINT_URL is not set: these tests need the local stack; run them with `make test`")
    return client("events"), client("sqs")


def test_moto_inserts_a_string_without_quotes_where_eventbridge_keeps_them(aws):
    """Why the local loop transforms the input itself: moto 5.2.5 makes of this template text that
    is not JSON (a string without its quotes), then reads it as JSON and fails the whole PutEvents.
    If this fails, moto follows EventBridge now and the tap could go."""
    from botocore.exceptions import ClientError
    from moto.events.utils import EventTemplateParser

    transformer = customer_activity_transformer()
    with pytest.raises(json.JSONDecodeError):  # `{"event_id": e-1, ...`: moto's own reading of it fails
        EventTemplateParser.parse(input_template=transformer["InputTemplate"], input_paths_map=transformer["InputPathsMap"],
                                  event={**EVENT, "ingestion-time": 0})
    assert json.loads(transform(EVENT, transformer))["customer_id"] == "c-42", "EventBridge (and the local loop) quote it"

    events, sqs = aws
    name = f"transform-check-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=name)
    sqs.create_queue(QueueName=name)
    events.put_rule(Name="all", EventBusName=name, EventPattern=json.dumps({"source": ["orders-api"]}))
    events.put_targets(Rule="all", EventBusName=name, Targets=[{
        "Id": "q", "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{name}", "InputTransformer": transformer}])
    with pytest.raises(ClientError):
        events.put_events(Entries=[{"EventBusName": name, "Source": "orders-api", "DetailType": "order.created",
                                    "Detail": json.dumps(EVENT["detail"])}])


def test_a_target_that_refuses_is_retried_per_its_policy_then_dead_lettered_with_eventbridges_attributes(aws):
    _, sqs = aws
    tag = uuid.uuid4().hex[:8]
    dead_letters = f"target-dlq-{tag}"
    dlq_url = sqs.create_queue(QueueName=dead_letters)["QueueUrl"]
    target = EventTarget(id="gone", function=None, properties={
        "Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:no-such-queue-{tag}",
        "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
        "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{dead_letters}"}})
    rule = EventRule(name=f"rule-{tag}", bus="B", pattern={}, enabled=True, targets=[target])
    sqs.create_queue(QueueName=target.tap(rule.name))
    poller = EventTargetPoller(rule, target, sqs, invoke_endpoint="", log=lambda _: None)

    assert poller.deliver(EVENT) is False
    (message,) = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"]) == EVENT, "the event as it was matched, not the target's input"
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule.arn and attributes["TARGET_ARN"] == target.properties["Arn"]
    assert attributes["RETRY_ATTEMPTS"] == "2" and attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttemptsExhausted"
    assert "NonExistentQueue" in attributes["ERROR_CODE"] or "QueueDoesNotExist" in attributes["ERROR_CODE"], attributes
