"""Local stand-ins for Lambda's event sources: SQS and DynamoDB stream mappings, and the
asynchronous invocation of a Lambda subscriber by SNS (and, tools/local/eventbridge.py, by
EventBridge).

SqsPoller, a stand-in for Lambda's SQS event source mapping.

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

import json
import os
import threading
import time
from typing import Any, Callable

from tools.shared.cfn import ACCOUNT_ID, REGION, SqsMapping
from tools.shared.lambda_api import InvocationFailed, invoke

LOCAL_VISIBILITY_TIMEOUT = int(os.environ.get("LOCAL_SQS_VISIBILITY_TIMEOUT", "1"))
# make load: every Nth batch is invoked and then dropped, as if the function died mid-batch: no
# message is deleted, so the whole batch comes back after the visibility timeout.
DROP_EVERY = int(os.environ.get("LOCAL_POLLER_DROP_EVERY") or 0)


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


class Poller:
    """A background loop that calls `poll_once` until stopped, and keeps polling through errors,
    as Lambda's pollers do. `poll_once` returns how much it handled; an idle poll waits a little."""

    name = "poller"

    def __init__(self, log: Callable[[str], None]):
        self.log = log
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=10)

    def poll_once(self) -> int:
        raise NotImplementedError

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                if not self.poll_once():
                    time.sleep(0.2)
            except Exception as error:  # noqa: BLE001 - keep polling, as Lambda does
                self.log(f"{self.name}: {error!r}")
                time.sleep(1)


class SqsPoller(Poller):
    def __init__(self, mapping: SqsMapping, sqs, invoke_endpoint: str, log: Callable[[str], None] = print):
        self.mapping = mapping
        self.sqs = sqs
        self.queue_url = sqs.get_queue_url(QueueName=mapping.queue)["QueueUrl"]
        self.invoke_endpoint = invoke_endpoint
        self.log = log
        self.name = f"poller {mapping.queue}"
        super().__init__(log)
        self.invocations = 0
        self.dropped = 0



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
        if DROP_EVERY and self.invocations % DROP_EVERY == 0:
            self.dropped += 1
            self.log(f"poller {self.mapping.queue}: batch of {len(messages)} dropped (LOCAL_POLLER_DROP_EVERY); it comes back")
            return len(messages)
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


class StreamPoller(Poller):
    """A local stand-in for Lambda's DynamoDB stream event source mapping.

    Reads each shard in order from TRIM_HORIZON, invokes the function with batches of up to the
    mapping's batch size, and with ReportBatchItemFailures retries the shard from the reported
    sequence number (an invocation error retries the whole batch). After MaximumRetryAttempts
    the batch's position goes to the on-failure destination and the shard moves on.
    Differences from AWS: one poller for all shards, retried without delay, no bisecting.
    """

    def __init__(self, function: str, binary: str, table: str, properties: dict, dynamodb, streams, sqs,
                 invoke_endpoint: str, log: Callable[[str], None] = print):
        self.function, self.binary, self.properties = function, binary, properties
        self.streams, self.sqs = streams, sqs
        self.stream_arn = dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.invoke_endpoint, self.log = invoke_endpoint, log
        # The mapping as tools.shared.cfn reads it from SAM's translation, Lambda's defaults filled in.
        self.batch_size = int(properties["BatchSize"])
        self.max_retries = int(properties["MaximumRetryAttempts"])
        self.reports_failures = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])
        on_failure = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        self.on_failure_queue = on_failure.rsplit(":", 1)[-1] if on_failure else None
        self.iterators: dict[str, str | None] = {}
        self.name = f"stream poller {function}"
        super().__init__(log)



    def _iterator(self, shard: str, kind: str = "TRIM_HORIZON", sequence: str | None = None) -> str:
        arguments = {"StreamArn": self.stream_arn, "ShardId": shard, "ShardIteratorType": kind}
        if sequence:
            arguments["SequenceNumber"] = sequence
        return self.streams.get_shard_iterator(**arguments)["ShardIterator"]

    def poll_once(self) -> int:
        handled = 0
        for shard in self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id not in self.iterators:
                self.iterators[shard_id] = self._iterator(shard_id)
            if self.iterators[shard_id] is None:
                continue
            page = self.streams.get_records(ShardIterator=self.iterators[shard_id], Limit=self.batch_size)
            records = page.get("Records", [])
            self.iterators[shard_id] = page.get("NextShardIterator")
            if records:
                self._deliver(shard_id, records)
                handled += len(records)
        return handled

    def _deliver(self, shard_id: str, records: list[dict]) -> None:
        for attempt in range(max(self.max_retries, 0) + 1 if self.max_retries >= 0 else 10_000):
            event = {"Records": [{**record, "eventSourceARN": self.stream_arn} for record in records]}
            for record in event["Records"]:
                record["dynamodb"].pop("ApproximateCreationDateTime", None)
            try:
                answer = invoke(self.invoke_endpoint, self.binary, event, timeout=900)
            except InvocationFailed as error:
                self.log(f"stream poller {self.function}: {error}")
                answer = None
            sequences = [record["dynamodb"]["SequenceNumber"] for record in records]
            failed = failed_ids(answer, set(sequences), self.reports_failures)
            if not failed:
                self.log(f"stream poller {self.function}: batch of {len(records)} done")
                return
            first = min(sequences.index(sequence) for sequence in failed)
            records = records[first:]  # retry from the first failed record, in order
            self.log(f"stream poller {self.function}: retrying {len(records)} records from {records[0]['dynamodb']['SequenceNumber']}")
        # Retries exhausted: record where, and move on past the batch.
        if self.on_failure_queue:
            queue_url = self.sqs.get_queue_url(QueueName=self.on_failure_queue)["QueueUrl"]
            self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({
                "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.function},
                "DDBStreamBatchInfo": {
                    "shardId": shard_id, "streamArn": self.stream_arn, "batchSize": len(records),
                    "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                    "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                },
            }))
        self.log(f"stream poller {self.function}: gave up on {len(records)} records")


class SnsLambdaPoller(Poller):
    """A local stand-in for SNS invoking a Lambda subscriber asynchronously.

    moto cannot invoke a cargo-lambda function, so the subscription is made to a tap queue with
    the same filter policy and scope; this poller turns each delivered notification into the SNS
    event Lambda would get, invokes the function, retries a failed invocation
    EventInvokeConfig.MaximumRetryAttempts times (default 2), then sends the event with its error
    to the on-failure destination. Differences from AWS: retries after 1 s instead of minutes;
    invocations are one at a time.
    """

    def __init__(self, function: str, binary: str, tap_queue: str, subscription_arn: str, invoke_config: dict,
                 sqs, invoke_endpoint: str, log: Callable[[str], None] = print):
        self.function, self.binary, self.subscription_arn = function, binary, subscription_arn
        self.sqs, self.invoke_endpoint, self.log = sqs, invoke_endpoint, log
        self.tap_url = sqs.get_queue_url(QueueName=tap_queue)["QueueUrl"]
        self.retries = int(invoke_config["MaximumRetryAttempts"])
        on_failure = invoke_config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        self.on_failure_queue = on_failure.rsplit(":", 1)[-1] if on_failure else None
        self.name = f"sns poller {function}"
        super().__init__(log)


    def poll_once(self) -> int:
        messages = self.sqs.receive_message(QueueUrl=self.tap_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        for message in messages:
            self._deliver(json.loads(message["Body"]))
            self.sqs.delete_message(QueueUrl=self.tap_url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)

    def _deliver(self, notification: dict) -> None:
        event = {"Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": self.subscription_arn,
            "Sns": {
                "Type": notification.get("Type", "Notification"),
                "MessageId": notification.get("MessageId"),
                "TopicArn": notification.get("TopicArn"),
                "Subject": notification.get("Subject"),
                "Message": notification.get("Message", ""),
                "Timestamp": notification.get("Timestamp"),
                "SignatureVersion": notification.get("SignatureVersion", "1"),
                "Signature": notification.get("Signature", ""),
                "SigningCertUrl": notification.get("SigningCertURL", ""),
                "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
                "MessageAttributes": notification.get("MessageAttributes", {}),
            },
        }]}
        invoke_async(self.invoke_endpoint, self.function, self.binary, event, self.retries, self.on_failure_queue, self.sqs,
                     f"sns poller {self.function}", self.log)


def invoke_async(invoke_endpoint: str, function: str, binary: str, event: Any, retries: int, on_failure_queue: str | None,
                 sqs, name: str, log: Callable[[str], None]) -> bool:
    """Lambda's asynchronous invocation, once the service has taken the event: the function runs;
    a failed run is retried `retries` times (EventInvokeConfig.MaximumRetryAttempts), 1 s apart
    here (minutes on AWS); then the event goes with its error to the on-failure destination, in
    the record Lambda writes. True if a run succeeded."""
    error = None
    for attempt in range(retries + 1):
        try:
            invoke(invoke_endpoint, binary, event, timeout=900)
            log(f"{name}: delivered")
            return True
        except InvocationFailed as failure:
            error = str(failure)
            log(f"{name}: attempt {attempt + 1} failed: {failure}")
            time.sleep(1)
    if on_failure_queue:
        queue_url = sqs.get_queue_url(QueueName=on_failure_queue)["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({
            "version": "1.0",
            "requestContext": {"functionArn": function, "condition": "RetriesExhausted", "approximateInvokeCount": retries + 1},
            "requestPayload": event,
            "responseContext": {"functionError": "Unhandled"},
            "responsePayload": {"errorMessage": error},
        }))
    return False
