"""The asynchronous pattern end to end on the laptop: HTTP -> jobs-api -> SQS (moto) -> local
poller -> job-worker -> DynamoDB (moto), with the template's batch size and redrive policy."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest
from flow import call, client, json_lines, log_mark, require_stack, wait_for_metric, wait_until
from patterns import has

@pytest.fixture(scope="module")
def aws():
    require_stack()
    return client("sqs"), client("dynamodb")


def job_of(dynamodb, job_id):
    item = dynamodb.get_item(TableName=os.environ["JOBS_TABLE"], Key={"id": {"S": job_id}}, ConsistentRead=True).get("Item")
    return {name: next(iter(value.values())) for name, value in item.items()} if item else None



def queue_url(sqs, name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def test_a_hundred_jobs_submitted_through_the_api_all_succeed(aws, capsys):
    """Reports, and with the sync pattern half of them invoices of an order."""
    _, dynamodb = aws
    invoices, order = False, None
    # starter: with sync
    invoices = True
    status, order = call("POST", "/orders", {"customer_id": "c-flow", "currency": "EUR", "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 1250}]})
    assert status == 201
    # starter: end
    started = time.monotonic()
    ids = []
    for n in range(100):
        body = {"type": "invoice", "input": {"order_id": order["id"]}} if invoices and n % 2 else {"type": "report", "input": {"seconds": 0}}
        status, job = call("POST", "/jobs", body)
        assert status == 202, job
        ids.append(job["id"])
    submitted = time.monotonic()

    wait_until(lambda: all((job_of(dynamodb, i) or {}).get("status") == "SUCCEEDED" for i in ids), 120, "100 jobs to succeed")

    drained = time.monotonic()
    jobs = [job_of(dynamodb, i) for i in ids]
    assert all(job["attempts"] == "1" for job in jobs), "each job ran once"
    rendered = [json.loads(job["result"]) for job in jobs if job["type"] == "invoice"]
    assert len(rendered) == (50 if invoices else 0) and all(invoice["total"] == 3000 for invoice in rendered)
    with capsys.disabled():
        print(f"\n100 jobs: submitted in {submitted - started:.1f} s, all SUCCEEDED {drained - started:.1f} s after the first submit")


def test_a_poison_message_reaches_the_dlq_after_six_receives_while_its_batch_completes(aws):
    sqs, dynamodb = aws
    jobs_queue, dead_letters = queue_url(sqs, "JobsQueue"), queue_url(sqs, "JobsDeadLetterQueue")
    poison = f"poison {uuid.uuid4()}"
    mark = log_mark()
    sqs.send_message(QueueUrl=jobs_queue, MessageBody=poison)
    ids = [call("POST", "/jobs", {"type": "report", "input": {"seconds": 0}})[1]["id"] for _ in range(5)]

    found = []

    def poison_in_dlq():
        for message in sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                           AttributeNames=["ApproximateReceiveCount"]).get("Messages", []):
            if message["Body"] == poison:
                found.append(message)
                return True
        return False

    wait_until(poison_in_dlq, 60, "the poison message in the DLQ")
    # Received 6 times from the jobs queue (maxReceiveCount), and the one receive just above.
    assert int(found[0]["Attributes"]["ApproximateReceiveCount"]) >= 6
    wait_until(lambda: all((job_of(dynamodb, i) or {}).get("status") == "SUCCEEDED" for i in ids), 60, "the good jobs")
    assert all(job_of(dynamodb, i)["attempts"] == "1" for i in ids), "the rest of the batch completed once"
    sqs.delete_message(QueueUrl=dead_letters, ReceiptHandle=found[0]["ReceiptHandle"])
    # Each of its six failures was counted as poison (what JobWorkerPoisonRecordsAlarm watches).
    wait_for_metric(mark, "BatchFailures", "poison", "job-worker", total=6)


def root_of(trace_header: str) -> str:
    return dict(part.split("=", 1) for part in trace_header.split(";"))["Root"]


def test_a_job_is_counted_at_each_step_and_its_trace_continues_from_the_api_to_the_worker(aws):
    _, dynamodb = aws
    mark = log_mark()
    status, job = call("POST", "/jobs", {"type": "report", "input": {"seconds": 0}})
    assert status == 202
    wait_until(lambda: (job_of(dynamodb, job["id"]) or {}).get("status") == "SUCCEEDED", 30, "the job")
    wait_for_metric(mark, "Jobs", "accepted", "jobs-api")
    wait_for_metric(mark, "Jobs", "succeeded", "job-worker")

    def line(message):
        return next((line for line in json_lines(mark) if line.get("fields", {}).get("message") == message
                     and line["fields"].get("job_id") == job["id"]), None)

    wait_until(lambda: line("job succeeded") is not None, 10, "the worker's line for the job")
    accepted, succeeded = line("job accepted"), line("job succeeded")
    # Both invocations' lines carry their request id and trace id; the worker's names the trace
    # of the request that queued the job, which travelled as the message's AWSTraceHeader.
    assert accepted["span"]["requestId"] and succeeded["span"]["requestId"] != accepted["span"]["requestId"]
    assert root_of(succeeded["fields"]["sender_trace"]) == root_of(accepted["span"]["xrayTraceId"])


def test_a_duplicate_delivery_of_a_finished_job_changes_nothing(aws):
    sqs, dynamodb = aws
    _, job = call("POST", "/jobs", {"type": "report", "input": {"seconds": 0}})
    wait_until(lambda: (job_of(dynamodb, job["id"]) or {}).get("status") == "SUCCEEDED", 30, "the job")
    finished = job_of(dynamodb, job["id"])

    sqs.send_message(QueueUrl=queue_url(sqs, "JobsQueue"), MessageBody=json.dumps({"job_id": job["id"], "type": "report"}))
    wait_until(lambda: int(sqs.get_queue_attributes(QueueUrl=queue_url(sqs, "JobsQueue"), AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessages"]) == 0
               and int(sqs.get_queue_attributes(QueueUrl=queue_url(sqs, "JobsQueue"), AttributeNames=["All"])["Attributes"]["ApproximateNumberOfMessagesNotVisible"]) == 0,
               30, "the duplicate to be consumed")

    assert job_of(dynamodb, job["id"]) == finished


def test_polling_a_job_shows_it_finish(aws):
    status, job = call("POST", "/jobs", {"type": "report", "input": {"seconds": 1}})
    assert status == 202 and job["status"] == "QUEUED"
    seen = {job["status"]}

    def finished():
        _, polled = call("GET", f"/jobs/{job['id']}")
        seen.add(polled["status"])
        return polled["status"] == "SUCCEEDED"

    wait_until(finished, 30, "the job to succeed")
    assert seen <= {"QUEUED", "RUNNING", "SUCCEEDED"}
