"""A local stand-in for Lambda's SQS event source mapping.

It follows the documented semantics: receive up to the mapping's batch size, invoke the function
once with a real SQS event, delete exactly the records that succeeded, and leave the failed ones
to come back after the visibility timeout; the queue's redrive policy (moto applies it) moves a
message to the dead-letter queue once it was received maxReceiveCount times. With
ReportBatchItemFailures, an invocation error, an answer that is not a batch response, or an
itemIdentifier that is not a messageId of the batch fails the whole batch.

Differences from AWS, on purpose: failed records come back after LOCAL_SQS_VISIBILITY_TIMEOUT
seconds (default 1) instead of the queue's visibility timeout, so retries and the way to the DLQ
take seconds in tests; one poller per mapping (no scaling to concurrent batches); no batching
window beyond a 1 s long poll.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable

from .cfn import ACCOUNT_ID, REGION, SqsMapping
from .lambda_api import InvocationFailed, invoke

LOCAL_VISIBILITY_TIMEOUT = int(os.environ.get("LOCAL_SQS_VISIBILITY_TIMEOUT", "1"))


def sqs_record(message: dict[str, Any], queue: str) -> dict[str, Any]:
    """A message as Lambda's SQS event carries it."""
    attributes = dict(message.get("Attributes", {}))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{queue}",
        "awsRegion": REGION,
    }


def failed_ids(answer: Any, batch_ids: set[str], reports_failures: bool) -> set[str]:
    """Which records of a batch failed, by Lambda's rules for the function's answer."""
    if answer is None:
        return set(batch_ids)  # the invocation failed: the whole batch comes back
    if not reports_failures:
        return set()
    if not isinstance(answer, dict):
        return set(batch_ids)
    failures = answer.get("batchItemFailures") or []
    if not isinstance(failures, list):
        return set(batch_ids)
    ids = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in batch_ids:
            return set(batch_ids)
        ids.add(identifier)
    return ids


class SqsPoller:
    def __init__(self, mapping: SqsMapping, sqs, invoke_endpoint: str, log: Callable[[str], None] = print):
        self.mapping = mapping
        self.sqs = sqs
        self.queue_url = sqs.get_queue_url(QueueName=mapping.queue)["QueueUrl"]
        self.invoke_endpoint = invoke_endpoint
        self.log = log
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"poller-{mapping.queue}", daemon=True)
        self.invocations = 0

    def start(self) -> "SqsPoller":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.poll_once()
            except Exception as error:  # noqa: BLE001 - a poller keeps polling, as Lambda's does
                self.log(f"poller {self.mapping.queue}: {error!r}")
                time.sleep(1)

    def _invoke(self, event: dict) -> Any:
        try:
            return invoke(self.invoke_endpoint, self.mapping.binary, event, timeout=900)
        except InvocationFailed as error:
            self.log(f"poller {self.mapping.queue}: {error}")
            return None

    def poll_once(self) -> int:
        messages: list[dict] = []
        while len(messages) < self.mapping.batch_size:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.mapping.batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else 1,
                VisibilityTimeout=LOCAL_VISIBILITY_TIMEOUT,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
            ).get("Messages", [])
            if not received:
                break
            messages.extend(received)
        if not messages:
            return 0
        event = {"Records": [sqs_record(message, self.mapping.queue) for message in messages]}
        self.invocations += 1
        answer = self._invoke(event)
        batch_ids = {message["MessageId"] for message in messages}
        failed = failed_ids(answer, batch_ids, self.mapping.report_batch_item_failures)
        done = [message for message in messages if message["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            result = self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for failure in result.get("Failed", []):
                self.log(f"poller {self.mapping.queue}: delete failed: {failure}")
        self.log(f"poller {self.mapping.queue}: batch of {len(messages)}, {len(failed)} failed")
        return len(messages)
