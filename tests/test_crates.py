"""The kit's crate graph: each pattern a unit, each function compiling only what it uses.
(Kit-only: a project made by make starter owns its crates and adds what it needs.)

Read from cargo itself (`cargo metadata`, `cargo tree`), so a new dependency that ties two
patterns together, or pulls an SDK crate into a function that never calls it, fails here."""

import json
import subprocess
from pathlib import Path

import pytest

from tools.shared.cfn import ROOT
from tools.starter.template import PATTERNS as HERE

# The six patterns and the crates of each; the shared kit is what any pattern may use.
KIT = {
    "sync": {"orders-api"},
    "async": {"jobs", "jobs-api", "job-worker"},
    "fanout": {"event-publisher", "notifier", "audit-log", "large-order-alert"},
    "realtime": {"realtime", "ws-api", "ws-push"},
    "callbacks": {"webhooks", "webhook-dispatcher", "webhook-keys"},
    "events": {"event-relay", "order-review", "customer-activity"},
}
# A project made with `make starter` holds some of them.
PATTERNS = {name: crates for name, crates in KIT.items() if name in HERE}
SHARED = {"lambda-kit", "contracts", "test-support"}

# What each function's production build compiles of the AWS SDK and the Lambda runtime.
# aws-sdk-sts comes with aws-config (its assume-role providers) into every function; lambda_http
# brings aws_lambda_events' API Gateway types.
SDK = {
    "orders-api": {"aws-sdk-dynamodb", "lambda_http", "aws_lambda_events"},
    "jobs-api": {"aws-sdk-dynamodb", "aws-sdk-sqs", "lambda_http", "aws_lambda_events"},
    "job-worker": {"aws-sdk-dynamodb", "aws_lambda_events"},
    "event-publisher": {"aws-sdk-dynamodb", "aws-sdk-sns", "aws_lambda_events"},
    "notifier": {"aws-sdk-dynamodb", "aws_lambda_events"},
    "audit-log": {"aws-sdk-dynamodb", "aws_lambda_events"},
    "large-order-alert": {"aws-sdk-dynamodb"},
    "ws-api": {"aws-sdk-dynamodb", "aws-sdk-secretsmanager"},
    "ws-push": {"aws-sdk-dynamodb", "aws-sdk-apigatewaymanagement", "aws_lambda_events"},
    "webhook-dispatcher": {"aws-sdk-secretsmanager", "aws_lambda_events"},
    "webhook-keys": {"aws-sdk-secretsmanager", "lambda_http", "aws_lambda_events"},
    "event-relay": {"aws-sdk-dynamodb", "aws-sdk-eventbridge", "aws_lambda_events"},
    "order-review": {"aws-sdk-dynamodb", "aws_lambda_events"},
    "customer-activity": {"aws-sdk-dynamodb"},
}
SDK = {function: crates for function, crates in SDK.items() if any(function in c for c in PATTERNS.values())}
WATCHED = ("aws-sdk-", "lambda_http", "aws_lambda_events")


def cargo(*args: str) -> str:
    return subprocess.run(["cargo", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def members() -> dict[str, dict]:
    metadata = json.loads(cargo("metadata", "--format-version", "1", "--no-deps", "--locked"))
    return {package["name"]: package for package in metadata["packages"]
            if "/functions/" in package["manifest_path"] or "/kit/" in package["manifest_path"]}


def pattern_of(crate: str) -> str | None:
    return next((name for name, crates in PATTERNS.items() if crate in crates), None)


def test_every_crate_belongs_to_one_pattern_or_to_the_shared_kit(members):
    listed = set().union(*PATTERNS.values()) | SHARED
    assert set(members) == listed
    for name, package in members.items():
        folder = Path(package["manifest_path"]).parent.relative_to(ROOT)
        expected = Path("kit", name) if name in SHARED else Path("functions", pattern_of(name), name)
        assert folder == expected, "functions/<pattern>/<crate> or kit/<crate>"


def test_no_crate_of_one_pattern_depends_on_a_crate_of_another(members):
    crossings = []
    for name, package in members.items():
        mine = pattern_of(name)
        for dependency in package["dependencies"]:
            theirs = pattern_of(dependency["name"])
            if name in SHARED and theirs is not None:
                crossings.append(f"shared {name} -> {dependency['name']} ({theirs})")
            elif mine and theirs and theirs != mine:
                crossings.append(f"{name} ({mine}) -> {dependency['name']} ({theirs})")
    assert crossings == []


@pytest.mark.parametrize("function", sorted(SDK))
def test_a_function_compiles_only_the_sdk_crates_it_calls(function):
    tree = cargo("tree", "-p", function, "-e", "normal", "--prefix", "none", "--locked")
    compiled = {line.split()[0] for line in tree.splitlines() if line.startswith(WATCHED)}
    assert compiled - {"aws-sdk-sts"} == SDK[function]
