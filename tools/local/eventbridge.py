"""A local stand-in for EventBridge delivering a rule's matches to its targets.

moto keeps the bus, the archive and the rules, and matches each event against each rule's
pattern (numeric ranges, prefix, anything-but, exists: moto 5.2.5 implements them); every target
of a rule is made, locally, a tap queue (tools/shared/aws.py). EventTargetPoller takes each match
from the tap and delivers it as EventBridge does, by its documentation:

- the target's input: the event as it is, or `InputPath`, `Input`, or `InputTransformer`
  (`transform` below: a variable outside quotes is inserted as a JSON value, so a string keeps
  its quotes; inside quotes, as text. moto's own transformer inserts a string without quotes, so
  `{"id": <id>}` is not JSON, and moto then fails the whole PutEvents reading it: the tap takes
  the event untransformed and this module transforms);
- the hand-over: an SQS target gets the input as the message body; a Lambda target is invoked
  asynchronously (Lambda then retries a failed run per the function's EventInvokeConfig and sends
  it to its on-failure destination: tools/local/poller.py invoke_async);
- a hand-over that fails is retried per the target's RetryPolicy (MaximumRetryAttempts,
  MaximumEventAgeInSeconds; EventBridge's defaults 185 and 24 h), then the event goes to the
  target's DeadLetterConfig queue with the attributes EventBridge sets (RULE_ARN, TARGET_ARN,
  ERROR_CODE, ERROR_MESSAGE, EXHAUSTED_RETRY_CONDITION, RETRY_ATTEMPTS), or is dropped without one.

Differences from AWS, on purpose: retries LOCAL_EVENTBRIDGE_RETRY_DELAY seconds apart (default
0.1) instead of EventBridge's backoff; one delivery at a time per target. moto 5.2.5's replay
(start_replay) sends every archived event to every rule of the bus, ignoring the window and
FilterArns; the flow tests replay windows that hold only the events they mean.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Callable

from tools.local.poller import Poller, invoke_async
from tools.shared.cfn import EventRule, EventTarget

RETRY_DELAY = float(os.environ.get("LOCAL_EVENTBRIDGE_RETRY_DELAY", "0.1"))
# EventBridge's own values for a target without a RetryPolicy.
DEFAULT_RETRIES = 185
DEFAULT_MAX_AGE = 86400

_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.\-]+)>")


def json_path(event: Any, path: str) -> Any:
    """The value at a JSONPath of the form EventBridge's paths take here (`$.detail.id`,
    `$.detail-type`); None where there is none."""
    if path == "$":
        return event
    if not path.startswith("$."):
        raise ValueError(f"unsupported JSONPath {path!r}")
    value = event
    for key in path[2:].split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def transform(event: dict[str, Any], transformer: dict[str, Any], rule: EventRule | None = None) -> str:
    """An InputTransformer applied as EventBridge applies it: each `<variable>` of the template
    outside a JSON string becomes the variable's JSON value (a string with its quotes, an object
    as JSON, a missing path null); inside a string, its text."""
    variables = {name: json_path(event, path) for name, path in (transformer.get("InputPathsMap") or {}).items()}
    # The documented reserved variables: the event without its detail, and the whole event.
    variables["aws.events.event"] = {key: value for key, value in event.items() if key != "detail"}
    variables["aws.events.event.json"] = event
    variables["aws.events.event.ingestion-time"] = event.get("time")
    if rule is not None:
        variables["aws.events.rule-arn"] = rule.arn
        variables["aws.events.rule-name"] = rule.name
    template = transformer["InputTemplate"]
    out: list[str] = []
    in_string = escaped = False
    position = 0
    while position < len(template):
        character = template[position]
        match = _PLACEHOLDER.match(template, position) if character == "<" else None
        if match and match.group(1) in variables:
            value = variables[match.group(1)]
            if in_string:
                text = value if isinstance(value, str) else ("" if value is None else json.dumps(value))
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
            position = match.end()
            continue
        if in_string and escaped:
            escaped = False
        elif in_string and character == "\\":
            escaped = True
        elif character == '"':
            in_string = not in_string
        out.append(character)
        position += 1
    return "".join(out)


def target_input(event: dict[str, Any], target: dict[str, Any], rule: EventRule | None = None) -> str:
    """What the target receives, as text: the event, or what Input, InputPath or InputTransformer make of it."""
    if "Input" in target:
        return target["Input"]
    if "InputPath" in target:
        return json.dumps(json_path(event, target["InputPath"]))
    if "InputTransformer" in target:
        return transform(event, target["InputTransformer"], rule)
    return json.dumps(event)


class EventTargetPoller(Poller):
    """Delivers one rule target's matches from its tap queue, as EventBridge does (module doc)."""

    def __init__(self, rule: EventRule, target: EventTarget, sqs, invoke_endpoint: str, binary: str | None = None,
                 invoke_config: dict | None = None, log: Callable[[str], None] = print):
        self.rule, self.target, self.sqs = rule, target, sqs
        self.invoke_endpoint, self.binary, self.invoke_config = invoke_endpoint, binary, invoke_config or {}
        self.tap_url = sqs.get_queue_url(QueueName=target.tap(rule.name))["QueueUrl"]
        policy = target.properties.get("RetryPolicy", {})
        self.retries = int(policy.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        self.max_age = int(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE))
        dead_letter = target.properties.get("DeadLetterConfig", {}).get("Arn")
        self.dead_letter_queue = dead_letter.rsplit(":", 1)[-1] if dead_letter else None
        self.name = f"eventbridge {rule.name}/{target.id}"
        self.delivered = 0
        self.dead_lettered = 0
        super().__init__(log)

    def poll_once(self) -> int:
        messages = self.sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            self.deliver(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def deliver(self, event: dict[str, Any]) -> bool:
        """Hands `event` to the target, retrying per its RetryPolicy; False if it was dead-lettered."""
        payload = target_input(event, self.target.properties, self.rule)
        started = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            try:
                self._hand_over(payload)
                self.delivered += 1
                return True
            except Exception as error:  # noqa: BLE001 - any refusal is a failed delivery
                failure = error
            if attempts > self.retries:
                condition = "MaximumRetryAttemptsExhausted"
            elif time.monotonic() - started >= self.max_age:
                condition = "MaximumEventAgeExhausted"
            else:
                time.sleep(RETRY_DELAY)
                continue
            self._dead_letter(event, failure, condition, attempts - 1)
            return False

    def _hand_over(self, payload: str) -> None:
        arn = self.target.properties["Arn"]
        if self.target.function:
            # Lambda takes the event (an asynchronous invoke) and runs it on its own: a failed run
            # is Lambda's to retry and to send to the function's on-failure destination.
            on_failure = self.invoke_config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            invoke_async(self.invoke_endpoint, self.target.function, self.binary or "", json.loads(payload),
                         int(self.invoke_config.get("MaximumRetryAttempts", 2)),
                         on_failure.rsplit(":", 1)[-1] if on_failure else None, self.sqs, self.name, self.log)
            return
        if ":sqs:" not in arn:
            raise NotImplementedError(f"{self.name}: no local delivery to {arn}")
        queue_url = self.sqs.get_queue_url(QueueName=arn.rsplit(":", 1)[-1])["QueueUrl"]
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=payload)

    def _dead_letter(self, event: dict[str, Any], error: Exception, condition: str, retries: int) -> None:
        self.log(f"{self.name}: gave up after {retries} retries ({condition}): {error}")
        if not self.dead_letter_queue:
            return  # EventBridge drops it, as here
        self.dead_lettered += 1
        code = getattr(error, "response", {}).get("Error", {}).get("Code") or type(error).__name__
        attributes = {
            "RULE_ARN": self.rule.arn,
            "TARGET_ARN": self.target.properties["Arn"],
            "ERROR_CODE": str(code),
            "ERROR_MESSAGE": str(error)[:256],
            "EXHAUSTED_RETRY_CONDITION": condition,
            "RETRY_ATTEMPTS": str(retries),
        }
        queue_url = self.sqs.get_queue_url(QueueName=self.dead_letter_queue)["QueueUrl"]
        self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(event), MessageAttributes={
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()})
