"""A local AWS: a moto server on a free loopback port, and the template's resources created in it."""

from __future__ import annotations

import json
import os
import secrets
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3

from tools.shared.cfn import REGION, Template

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def wait_until_listening(url: str, process: subprocess.Popen, timeout: float, what: str) -> None:
    """Waits until `url` gives any HTTP answer (an error status too: the server is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not answer at {url} within {timeout:.0f} s")


def stop(process: subprocess.Popen | None) -> None:
    """Stops a child process group: politely, then for sure."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, 15)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(process.pid, 9)
        except ProcessLookupError:
            pass
        process.wait()


class Moto:
    """moto's server mode: the real AWS SDKs talk to it over HTTP like to AWS. It listens on
    loopback, or for `make sam-local` on the Docker bridge's own address (the one address the
    containers can reach on this machine)."""

    def __init__(self, log_path: Path, host: str = "127.0.0.1", patches: tuple[str, ...] = ()):
        self.log_path = log_path
        self.host = host
        # Modules whose patch() the server applies before it starts (see tools/shared/moto_server.py).
        self.patches = patches
        self.port = free_port(host)
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "Moto":
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            # moto's own server, with DynamoDB made safe under concurrent transactions (see there).
            [sys.executable, "-m", "tools.shared.moto_server", *(f"--patch={module}" for module in self.patches),
             "-H", self.host, "-p", str(self.port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until_listening(f"{self.endpoint}/moto-api/", self.process, 30, "moto server")
        return self

    def stop(self) -> None:
        stop(self.process)

    def client_environment(self) -> dict[str, str]:
        """What any AWS SDK needs to use this server: the standard endpoint setting, a region,
        throwaway credentials, and no metadata-endpoint lookups."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification")


def create_resources(template: Template, moto: Moto) -> list[str]:
    """Creates the template's data resources in moto, named by logical id. Returns what it made."""
    created = []
    dynamodb = moto.client("dynamodb")
    for logical_id, resource in template.of_type("AWS::DynamoDB::Table").items():
        properties = template.resolve(resource.get("Properties", {}))
        spec = {key: properties[key] for key in _TABLE_KEYS if key in properties}
        if "StreamSpecification" in spec:
            spec["StreamSpecification"] = {"StreamEnabled": True, **spec["StreamSpecification"]}
        dynamodb.create_table(TableName=logical_id, **spec)
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=logical_id,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )
        created.append(f"DynamoDB table {logical_id}")

    # Queues: dead-letter queues (those others redrive to) first, so redrive policies can name them.
    sqs = moto.client("sqs")
    queues = template.of_type("AWS::SQS::Queue")
    ordered = sorted(queues, key=lambda name: "RedrivePolicy" in queues[name].get("Properties", {}))
    for logical_id in ordered:
        properties = template.resolve(queues[logical_id].get("Properties", {}))
        attributes = {}
        for name in ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds"):
            if name in properties:
                attributes[name] = str(properties[name])
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
        if properties.get("FifoQueue"):
            attributes["FifoQueue"] = "true"
        sqs.create_queue(QueueName=logical_id, Attributes=attributes)
        created.append(f"SQS queue {logical_id}")

    # Secrets with a generated value, as CloudFormation would make them (named by logical id: the
    # local Ref of a secret is its name, which GetSecretValue takes as well as an ARN).
    secretsmanager = moto.client("secretsmanager")
    for logical_id, resource in template.of_type("AWS::SecretsManager::Secret").items():
        generate = resource.get("Properties", {}).get("GenerateSecretString", {})
        alphabet = string.ascii_letters + string.digits
        if not generate.get("ExcludePunctuation"):
            alphabet += string.punctuation
        value = "".join(secrets.choice(alphabet) for _ in range(int(generate.get("PasswordLength", 32))))
        secretsmanager.create_secret(Name=logical_id, SecretString=value)
        created.append(f"Secrets Manager secret {logical_id}")

    sns = moto.client("sns")
    for logical_id in template.of_type("AWS::SNS::Topic"):
        sns.create_topic(Name=logical_id)
        created.append(f"SNS topic {logical_id}")
    # As SAM deploys them; the ones that invoke a function directly are the stack's (a poller).
    for logical_id, resource in template.translated_of_type("AWS::SNS::Subscription").items():
        if "Condition" in resource and not template.condition(resource["Condition"]):
            continue  # as CloudFormation: a resource whose condition is false is not created
        properties = template.resolve(resource["Properties"])
        if properties["Protocol"] == "lambda":
            continue
        subscribe(sns, properties["TopicArn"], properties["Protocol"], properties["Endpoint"], properties)
        created.append(f"SNS subscription {logical_id}")

    # The event buses, their archives and rules (named by logical id). moto matches a rule's
    # pattern; each target's matches go to a tap queue, from which the local stack delivers them
    # as EventBridge would (tools/local/eventbridge.py: input transformer, retries, DLQ).
    events = moto.client("events")
    for logical_id in template.of_type("AWS::Events::EventBus"):
        events.create_event_bus(Name=logical_id)
        created.append(f"EventBridge bus {logical_id}")
    for logical_id, resource in template.of_type("AWS::Events::Archive").items():
        properties = template.resolve(resource["Properties"])
        events.create_archive(ArchiveName=logical_id, EventSourceArn=properties["SourceArn"],
                              RetentionDays=int(properties.get("RetentionDays", 0)))
        created.append(f"EventBridge archive {logical_id}")
    for rule in template.event_rules():
        events.put_rule(Name=rule.name, EventBusName=rule.bus, EventPattern=json.dumps(rule.pattern),
                        State="ENABLED" if rule.enabled else "DISABLED")
        for target in rule.targets:
            sqs.create_queue(QueueName=target.tap(rule.name))
        events.put_targets(Rule=rule.name, EventBusName=rule.bus, Targets=[
            {"Id": target.id, "Arn": template.arn_of_queue(target.tap(rule.name))} for target in rule.targets])
        created.append(f"EventBridge rule {rule.name} ({len(rule.targets)} target(s), through tap queues)")
    return created


def subscribe(sns, topic_arn: str, protocol: str, endpoint: str, properties: dict[str, Any]) -> str:
    """A subscription with the template's delivery attributes (filter, scope, raw, redrive)."""
    attributes = {}
    if "FilterPolicy" in properties:
        attributes["FilterPolicy"] = json.dumps(properties["FilterPolicy"])
    if "FilterPolicyScope" in properties:
        attributes["FilterPolicyScope"] = properties["FilterPolicyScope"]
    if properties.get("RawMessageDelivery") in (True, "true", "True"):
        attributes["RawMessageDelivery"] = "true"
    if "RedrivePolicy" in properties:
        attributes["RedrivePolicy"] = json.dumps(properties["RedrivePolicy"])
    return sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint, Attributes=attributes)["SubscriptionArn"]
